"""MongoDB's reads for validation rules (migrations/validation/rule_checker.RuleChecker): pages of a collection
in _id order, each one find() under maxTimeMS; a filter or a $jsonSchema is checked page by page within the
page's _id range, so no query walks the whole collection at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.canonical import key_text
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rule_checker import (
    Offenders,
    Page,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    MAX_EXAMPLES,
    Paging,
    Target,
    ValidationRule,
)

_MISSING = object()


def field_value(document: Any, path: str) -> Any:
    """The value at a dotted path, or _MISSING."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _bson_ready(value: Any) -> Any:
    """A value read from PostgreSQL as something BSON can carry for an $in lookup."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class MongoRuleChecker:
    def __init__(self, db: Any, verify: Callable[[MigrationSet], None] | None = None) -> None:
        self.db = db
        self.verify = verify  # the executor's own validation of a set (raises ValidationFailed)

    def _pages(self, target: Target, projection: dict[str, int], paging: Paging,
               after: Any = _MISSING) -> Iterator[list[dict]]:
        collection = self.db[target.name]
        while True:
            query = {} if after is _MISSING else {"_id": {"$gt": after}}
            batch = list(collection.find(query, projection, sort=[("_id", 1)], limit=paging.batch_size,
                                         max_time_ms=paging.statement_timeout_ms))
            if batch:
                yield batch
            if len(batch) < paging.batch_size:
                return
            after = batch[-1]["_id"]

    def count(self, target: Target, paging: Paging) -> int:
        return sum(len(b) for b in self._pages(target, {"_id": 1}, paging))

    def nulls(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        found = Offenders()
        for batch in self._pages(target, {"_id": 1, **{f: 1 for f in fields}}, paging):
            found.checked += len(batch)
            for doc in batch:
                if any(field_value(doc, f) in (None, _MISSING) for f in fields):
                    self._offend(found, doc["_id"])
        return found

    def duplicates(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        """Pages in (fields, _id) order so equal values are neighbours; documents missing a field, or holding
        null, are left out (as a sparse unique index would). An index on the fields keeps each page short."""
        collection = self.db[target.name]
        order = [*fields, "_id"]
        present = {f: {"$ne": None} for f in fields}
        found, previous, group, after = Offenders(), None, 0, None
        while True:
            query = present if after is None else {"$and": [present, _after(order, after)]}
            batch = list(collection.find(query, {f: 1 for f in order}, sort=[(f, 1) for f in order],
                                         limit=paging.batch_size, max_time_ms=paging.statement_timeout_ms))
            for doc in batch:
                values = tuple(key_text(field_value(doc, f)) for f in fields)
                found.checked += 1
                if previous is not None and values == previous[0]:
                    group += 1
                    if group == 2:
                        self._offend(found, previous[1])
                    self._offend(found, doc["_id"])
                else:
                    group = 1
                previous = (values, doc["_id"])
            if len(batch) < paging.batch_size:
                return found
            after = [field_value(batch[-1], f) for f in order]

    def custom(self, rule: ValidationRule) -> Offenders:
        if not (rule.target is not None):
            raise AssertionError("the rule parser guarantees rule.target is not None")
        if rule.kind == "json_schema":
            bad = {"$nor": [{"$jsonSchema": rule.schema}]}
            if rule.sample is not None:
                return self._sampled(rule, bad)
        elif rule.kind == "mongodb":
            bad = rule.filter
        else:
            raise ValidationFailed(f"validate[{rule.index}]: {rule.kind} does not apply to a MongoDB collection")
        found = Offenders()
        collection = self.db[rule.target.name]
        lower: Any = _MISSING
        for batch in self._pages(rule.target, {"_id": 1}, rule.paging):
            found.checked += len(batch)
            in_page: dict[str, Any] = {"$lte": batch[-1]["_id"]}
            if lower is not _MISSING:
                in_page["$gt"] = lower
            lower = batch[-1]["_id"]
            for doc in collection.find({"$and": [{"_id": in_page}, bad]}, {"_id": 1},
                                       max_time_ms=rule.paging.statement_timeout_ms):
                self._offend(found, doc["_id"])
        return found

    def _sampled(self, rule: ValidationRule, bad: dict) -> Offenders:
        if not (rule.target is not None and rule.sample is not None):
            raise AssertionError("the rule parser guarantees rule.target is not None and rule.sample is not None")
        collection = self.db[rule.target.name]
        sampled = list(collection.aggregate([{"$sample": {"size": rule.sample}}, {"$project": {"_id": 1}}],
                                            maxTimeMS=rule.paging.statement_timeout_ms))
        found = Offenders(checked=len(sampled))
        ids = [d["_id"] for d in sampled]
        for start in range(0, len(ids), rule.paging.batch_size):
            chunk = ids[start:start + rule.paging.batch_size]
            for doc in collection.find({"$and": [{"_id": {"$in": chunk}}, bad]}, {"_id": 1},
                                       max_time_ms=rule.paging.statement_timeout_ms):
                self._offend(found, doc["_id"])
        return found

    def page(self, target: Target, fields: tuple[str, ...], after: Any, paging: Paging) -> Page:
        collection = self.db[target.name]
        query = {} if after is None else {"_id": {"$gt": after}}
        batch = list(collection.find(query, {"_id": 1, **{f: 1 for f in fields}}, sort=[("_id", 1)],
                                     limit=paging.batch_size, max_time_ms=paging.statement_timeout_ms))
        rows = [(doc["_id"], tuple(None if (v := field_value(doc, f)) is _MISSING else v for f in fields))
                for doc in batch]
        return Page(rows, batch[-1]["_id"] if len(batch) == paging.batch_size else None)

    def existing(self, target: Target, field_name: str, values: list[Any], paging: Paging) -> set[str]:
        if not values:
            return set()
        wanted = [_bson_ready(v) for v in values]
        # A number from PostgreSQL may be kept as its text in MongoDB, and the other way round.
        wanted += [key_text(v) for v in wanted if not isinstance(v, str)]
        found = self.db[target.name].distinct(field_name, {field_name: {"$in": wanted}},
                                              maxTimeMS=paging.statement_timeout_ms)
        return {key_text(v) for v in found}

    def verify_set(self, mset: MigrationSet, check_mode: bool) -> str | None:
        if mset.mongodb is None or self.verify is None:
            return None
        if check_mode and mset.mongodb.kind == "python":
            return None  # a Python part's validate() is its code: check mode runs no user code
        try:
            self.verify(mset)
        except ValidationFailed as exc:
            return exc.message
        except DbopsError as exc:
            return f"could not validate: {exc.message}"
        return None

    def exists(self, target: Target, column: str | None, paging: Paging) -> bool:
        """The collection (or view) only: a field exists once some document holds it, which no schema says."""
        return bool(self.db.list_collection_names(filter={"name": target.name}, maxTimeMS=paging.statement_timeout_ms))

    @staticmethod
    def _offend(found: Offenders, key: Any) -> None:
        found.offending += 1
        if len(found.examples) < MAX_EXAMPLES:
            found.examples.append(key_text(key))


def _after(order: list[str], last: list[Any]) -> dict:
    """Documents after `last` in (order) sort order: f1 > a, or f1 = a and f2 > b, ..."""
    branches = []
    for i, name in enumerate(order):
        branch = {order[j]: last[j] for j in range(i)}
        branch[name] = {"$gt": last[i]}
        branches.append(branch)
    return {"$or": branches}

"""Declarative checks of a MongoDB part (mongodb.yml `validate:` or migration.yml `validate.mongodb`):

    - {collection: users, filter: {preferences: {$exists: false}}, count: 0}   # also max: N, min: N
    - {collection: courses, index: idx_course_browse}                          # the index exists
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import (
    Spec,
    SpecError,
    collection_name,
    show,
)


@dataclass(frozen=True)
class Check:
    collection: str
    filter: dict[str, Any] | None = None
    count: int | None = None
    max: int | None = None
    min: int | None = None
    index: str | None = None

    def describe(self) -> str:
        if self.index:
            return f"// validate: {self.collection} has the index {self.index}"
        bounds = [f"== {self.count}" if self.count is not None else "",
                  f"<= {self.max}" if self.max is not None else "",
                  f">= {self.min}" if self.min is not None else ""]
        return (f"// validate: db.{self.collection}.countDocuments({show(self.filter or {})}) "
                + " and ".join(b for b in bounds if b))

    def run(self, db: Any) -> str | None:
        """None when the check holds, else what is wrong."""
        if self.index:
            names = [ix["name"] for ix in db[self.collection].list_indexes()]
            return None if self.index in names else f"{self.collection} has no index {self.index}"
        found = db[self.collection].count_documents(self.filter or {})
        for ok, text in ((self.count is None or found == self.count, f"== {self.count}"),
                         (self.max is None or found <= self.max, f"<= {self.max}"),
                         (self.min is None or found >= self.min, f">= {self.min}")):
            if not ok:
                return f"{self.collection}: {found} documents match {show(self.filter or {})}, expected {text}"
        return None


def _int(spec: Spec, key: str) -> int | None:
    value = spec.any(key, required=False)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise SpecError(f"{key!r} must be a non-negative integer")
    return value


def parse_checks(raw: Any) -> list[Check]:
    """Raises SpecError with the check's position."""
    if not raw:  # absent, or an empty mapping/list
        return []
    items = raw if isinstance(raw, list) else [raw]
    checks = []
    for i, item in enumerate(items, 1):
        try:
            spec = Spec(item, "check")
            collection = collection_name(spec.str("collection"))
            index = spec.str("index", required=False)
            flt = spec.mapping("filter", required=False)
            count, most, least = _int(spec, "count"), _int(spec, "max"), _int(spec, "min")
            spec.done()
            if index and (flt or count is not None or most is not None or least is not None):
                raise SpecError("an index check takes only collection and index")
            if not index and count is None and most is None and least is None:
                raise SpecError("give count, max or min (or index)")
        except SpecError as exc:
            raise SpecError(f"validate check {i}: {exc}") from exc
        checks.append(Check(collection, flt, count, most, least, index))
    return checks


def manifest_checks(mset: MigrationSet) -> list[Check]:
    """The checks of migration.yml's validate.mongodb."""
    try:
        return parse_checks((mset.manifest.validate or {}).get("mongodb"))
    except SpecError as exc:
        raise MigrationFormatError(f"validate.mongodb: {exc}", version=mset.version,
                                   path=mset.manifest.path or mset.path) from exc


def failed_checks(checks: list[Check], db: Any) -> list[str]:
    return [problem for problem in (check.run(db) for check in checks) if problem]

"""split_array: elements of an embedded array (arrays nested along a path are walked) become documents of
another collection; the element keeps a reference to its new document and, for a split, loses the moved
fields. This is the strategy document's course curriculum -> content_blocks change, declaratively.

The inverse is recorded per batch (which root documents were changed, which documents were created, what the
root's ids field held before): the rollback moves the fields back from the created documents (so edits made
to them meanwhile are kept), removes the references and deletes exactly the documents this migration created.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson, pymongo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import Writer, run_batches
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = doc
    for segment in parents:
        node = node.setdefault(segment, {})
    node[leaf] = value


def get_path(doc: Any, path: str, default: Any = None) -> Any:
    node = doc
    for segment in path.split("."):
        if not isinstance(node, dict) or segment not in node:
            return default
        node = node[segment]
    return node


def walk(root: dict[str, Any], segments: list[str]) -> Iterator[tuple[dict[str, Any], dict[str, dict[str, Any]]]]:
    """(element, {segment: enclosing element}) for every element at the end of the path; arrays are iterated,
    embedded documents descended into, anything else skipped."""

    def go(node: Any, i: int, scope: dict[str, dict[str, Any]]) -> Iterator:
        if i == len(segments):
            if isinstance(node, dict):
                yield node, scope
            return
        value = node.get(segments[i]) if isinstance(node, dict) else None
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        for item in items:
            if isinstance(item, dict):
                yield from go(item, i + 1, {**scope, segments[i]: item})

    yield from go(root, 0, {})


class SplitArray(base.CollectionOperation):
    kind = "split_array"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.path = base.field_path(spec.str("path"), "path")
        self.segments = self.path.split(".")
        self.into = base.collection_name(spec.str("into"))
        self.move = [base.field_path(str(f), "move field") for f in spec.list("move", required=False, default=[])]
        self.when = spec.str("when", required=False)
        self.fields = {base.field_path(k, "fields key"): v for k, v in
                       spec.mapping("fields", required=False, default={}).items()}
        self.defaults = spec.mapping("defaults", required=False, default={})
        self.constants = spec.mapping("set", required=False, default={})
        self.timestamps = [base.field_path(str(f), "timestamp field") for f in
                           spec.list("timestamps", required=False, default=[])]
        self.reference = base.field_path(spec.str("reference"), "reference")
        self.ids_field = spec.str("ids_field", required=False)
        self.filter = spec.mapping("filter", required=False, default={})
        if self.ids_field:
            base.field_path(self.ids_field, "ids_field")
        if not self.move and not self.ids_field:
            raise base.SpecError("give 'move' (fields moved out of each element) or, for a copy, 'ids_field' (how a "
                                 "migrated document is recognized)")
        if "." in self.reference or any("." in m for m in self.move):
            raise base.SpecError("'reference' and 'move' name fields of the element itself (no dots)")
        for target, source in self.fields.items():
            if not isinstance(source, str) or not source.startswith("$") or "." not in source:
                raise base.SpecError(f"fields.{target} must read '$root.<field>', '$element.<field>' or "
                                     f"'$<path segment>.<field>' (constants go under 'set')")
            scope = source[1:].split(".", 1)[0]
            if scope not in ("root", "element", *self.segments):
                raise base.SpecError(f"fields.{target}: {source!r} names no level of path {self.path!r}")

    # ---- selection ---------------------------------------------------------------------------------------------
    def selector(self) -> dict[str, Any]:
        if self.move:
            marker = {f"{self.path}.{self.move[0]}": {"$exists": True}}
        else:
            marker = {self.ids_field: {"$exists": False}}
        clauses = [c for c in (self.filter, marker) if c]
        if self.when:
            clauses.append({f"{self.path}.{self.when}": {"$exists": True}})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def qualifies(self, element: dict[str, Any]) -> bool:
        if self.reference in element:
            return False
        if self.when and self.when not in element:
            return False
        return not self.move or any(m in element for m in self.move)

    def describe(self) -> str:
        moved = f"moving {base.show(self.move)} " if self.move else "copying "
        return (f"// split_array {self.collection}.{self.path} -> {self.into}: for each element "
                f"{'with ' + self.when + ' ' if self.when else ''}{moved}into a new {self.into} document, "
                f"element.{self.reference} = its _id" + (f", {self.ids_field} = the new _ids" if self.ids_field else "")
                + f"; documents selected by {base.show(self.selector())}, in batches by _id")

    # ---- apply -------------------------------------------------------------------------------------------------
    def _source(self, source: str, root: dict[str, Any], scope: dict[str, Any], element: dict[str, Any]) -> Any:
        level, rest = source[1:].split(".", 1)
        node = root if level == "root" else element if level == "element" else scope.get(level)
        return get_path(node, rest, None)

    def transform(self, root: dict[str, Any], now: datetime) -> tuple[Any, list[dict[str, Any]]]:
        """(the new value of the root's top-level field that holds the array, the new documents)."""
        top = self.segments[0]
        new_root = {top: copy.deepcopy(root.get(top))}
        created = []
        for element, scope in walk(new_root, self.segments):
            if not self.qualifies(element):
                continue
            doc: dict[str, Any] = {"_id": bson.ObjectId()}
            for target, source in self.fields.items():
                value = self._source(source, root, {**scope, "root": root}, element)
                if value is None and target in self.defaults:
                    value = self.defaults[target]
                if value is not None:
                    set_path(doc, target, value)
            for name in self.move:
                if name in element:
                    doc[name] = element.pop(name)
            for target, value in self.constants.items():
                set_path(doc, target, copy.deepcopy(value))
            for target in self.timestamps:
                set_path(doc, target, now)
            element[self.reference] = doc["_id"]
            created.append(doc)
        return new_root[top], created

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "into": self.into, "path": self.path, "move": self.move,
                "reference": self.reference, "ids_field": self.ids_field, "touched": progress.TOUCHED}

    def _batch(self, docs: list[dict[str, Any]], writer: Writer, index: int) -> None:
        top = self.segments[0]
        now = utc_now()
        roots, ids_before, changed = [], [], 0
        for root in docs:
            new_value, created = self.transform(root, now)
            if not created:
                continue
            writer.insert_many(self.into, created)
            update: dict[str, Any] = {top: new_value}
            if self.ids_field:
                previous = get_path(root, self.ids_field, None)
                if previous is not None:
                    ids_before.append([root["_id"], previous])
                update[self.ids_field] = [d["_id"] for d in created]
            # Matches only if the array is still what was read: a concurrent edit makes the batch redo precisely.
            writer.bulk_write(self.collection, [pymongo.UpdateOne({"_id": root["_id"], top: root.get(top)},
                                                                  {"$set": update})])
            roots.append([root["_id"], [d["_id"] for d in created]])
            changed += 1
        if changed:
            writer.expect[self.collection] = changed
            writer.record_touched(index, {"roots": roots, "ids_before": ids_before})

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        benv = env.batch("up")
        projection = None

        def handler(docs: list[dict[str, Any]], writer: Writer, precise: bool) -> None:
            if not precise:
                self._batch(docs, writer, env.index)
                return

            def redo(db: Any, session: Any) -> None:
                # Re-read inside the transaction: the writes below then see exactly what they replace.
                fresh = [d for d in (db[self.collection].find_one({"_id": doc["_id"]}, session=session)
                                     for doc in docs) if d is not None]
                inner = Writer(self.collection, None)
                self._batch(fresh, inner, env.index)
                for _kind, coll, requests in inner.actions:
                    db[coll].bulk_write(requests, ordered=True, session=session)
                writer.touched[:] = inner.touched

            writer.call(redo)

        stats = run_batches(benv, name=f"op{env.index}", collection=self.collection, flt=self.selector(),
                            projection=projection, handler=handler)
        env.queries.append(f"// split_array {self.collection}.{self.path} -> {self.into}: {stats.documents} "
                           f"documents in {stats.batches} batches")

    # ---- undo --------------------------------------------------------------------------------------------------
    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        db = env.db
        coll, into = inverse["collection"], inverse["into"]
        segments = inverse["path"].split(".")
        move, reference, ids_field = inverse["move"], inverse["reference"], inverse.get("ids_field")
        top = segments[0]

        def apply_record(record: dict[str, Any], session: Any) -> None:
            before = {str(root_id): value for root_id, value in record.get("ids_before", [])}
            deletes = []
            for root_id, created_ids in record.get("roots", []):
                created = set(created_ids)
                root = db[coll].find_one({"_id": root_id}, {top: 1}, session=session)
                if root is not None:
                    restored = copy.deepcopy(root.get(top))
                    holder = {top: restored}
                    for element, _enclosing in walk(holder, segments):
                        block_id = element.get(reference)
                        if block_id not in created:
                            continue
                        block = db[into].find_one({"_id": block_id}, session=session) or {}
                        del element[reference]
                        for name in move:
                            if name in block:
                                element[name] = block[name]
                    update: dict[str, Any] = {"$set": {top: holder[top]}}
                    if ids_field:
                        if str(root_id) in before:
                            update["$set"][ids_field] = before[str(root_id)]
                        else:
                            update["$unset"] = {ids_field: ""}
                    db[coll].update_one({"_id": root_id}, update, session=session)
                deletes += [pymongo.DeleteOne({"_id": block_id}) for block_id in created_ids]
            if deletes:
                db[into].bulk_write(deletes, ordered=False, session=session)

        progress.undo_touched(db, env.version, env.index, env.transactions, apply_record)
        progress.forget_touched(db, env.version, env.index)

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return (f"// split_array undo: move {base.show(self.move)} back from {self.into} into {self.collection}."
                f"{self.path}, remove {self.reference}" + (f" and {self.ids_field}" if self.ids_field else "")
                + f", delete the {self.into} documents this migration created")

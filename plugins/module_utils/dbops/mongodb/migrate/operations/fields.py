"""add_field / rename_field, batched and resumable. Their inverse is the set of documents this migration
changed, recorded batch by batch in dbops_touched (with the batch, atomically where transactions exist): the
rollback unsets or renames back on exactly those documents, and removes any parent it had to create."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import (
    BatchEnv,
    Writer,
    run_batches,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import (
    OpEnv,
    Operation,
    Spec,
    SpecError,
    collection_name,
    field_path,
    show,
)

_MISSING = object()


def lookup(doc: Any, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(doc, dict) or segment not in doc:
            return _MISSING
        doc = doc[segment]
    return doc


def missing_root(doc: dict[str, Any], path: str) -> str:
    """The shortest prefix of path that the document lacks: what $set creates, and what undo must remove."""
    segments = path.split(".")
    node: Any = doc
    for i, segment in enumerate(segments):
        if not isinstance(node, dict) or segment not in node:
            return ".".join(segments[: i + 1])
        node = node[segment]
    return path


def parent_projection(path: str) -> dict[str, int]:
    """Enough of a document to tell which parents of path exist (only _id for a top-level field)."""
    if "." not in path:
        return {"_id": 1}
    return {"_id": 1, path.rsplit(".", 1)[0]: 1}


def _undo_batches(env: OpEnv, apply_record) -> None:
    progress.undo_touched(env.db, env.version, env.index, env.transactions, apply_record)


class AddField(Operation):
    kind = "add_field"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.collection = collection_name(spec.str("collection"))
        self.field = field_path(spec.str("field"))
        if "default" not in spec.args:
            raise SpecError("missing required key 'default' (the value given to documents that lack the field)")
        self.default = spec.any("default", required=False)
        self.filter = spec.mapping("filter", required=False, default={})

    def selector(self) -> dict[str, Any]:
        missing = {self.field: {"$exists": False}}
        return {"$and": [self.filter, missing]} if self.filter else missing

    def describe(self) -> str:
        setter = show({self.field: self.default})
        return (f"db.{self.collection}.updateMany({show(self.selector())}, {{$set: {setter}}})"
                " // in batches by _id, each batch's _ids recorded for the rollback")

    def prepare(self, env: OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "field": self.field, "touched": progress.TOUCHED}

    def execute(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        benv: BatchEnv = env.batch("up")
        field, default = self.field, self.default
        projection = parent_projection(field)

        def handler(docs: list[dict[str, Any]], writer: Writer, precise: bool) -> None:
            if precise:
                writer.call(lambda db, session: self._precise(db, session, docs, writer, env.index))
                return
            groups: dict[str, list[Any]] = {}
            for doc in docs:
                groups.setdefault(missing_root(doc, field), []).append(doc["_id"])
                writer.bulk_write(self.collection, [pymongo.UpdateOne(
                    {"_id": doc["_id"], field: {"$exists": False}}, {"$set": {field: default}})])
            writer.expect[self.collection] = len(docs)
            writer.record_touched(env.index, {"unset": [[path, ids] for path, ids in groups.items()]})

        stats = run_batches(benv, name=f"op{env.index}", collection=self.collection, flt=self.selector(),
                            projection=projection, handler=handler)
        env.queries.append(f"// add_field {self.collection}.{field}: {stats.documents} documents in "
                           f"{stats.batches} batches" + (" (resumed)" if stats.resumed_after is not None else ""))

    def _precise(self, db: Any, session: Any, docs: list[dict[str, Any]], writer: Writer, index: int) -> None:
        """Document by document inside the transaction: only those still lacking the field are changed."""
        groups: dict[str, list[Any]] = {}
        for doc in docs:
            before = db[self.collection].find_one_and_update(
                {"_id": doc["_id"], self.field: {"$exists": False}}, {"$set": {self.field: self.default}},
                projection=parent_projection(self.field), session=session)
            if before is not None:
                groups.setdefault(missing_root(before, self.field), []).append(doc["_id"])
        writer.record_touched(index, {"unset": [[path, ids] for path, ids in groups.items()]})

    def undo(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        coll = env.db[inverse["collection"]]

        def apply_record(record: dict[str, Any], session: Any) -> None:
            requests = [pymongo.UpdateOne({"_id": _id}, {"$unset": {path: ""}})
                        for path, ids in record.get("unset", []) for _id in ids]
            if requests:
                coll.bulk_write(requests, ordered=False, session=session)

        _undo_batches(env, apply_record)
        progress.forget_touched(env.db, env.version, env.index)

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return (f"db.{self.collection}.updateMany({{_id: {{$in: <the _ids add_field changed>}}}}, "
                f"{{$unset: {{{show(self.field)}: \"\"}}}}) // in the batches recorded")


class RenameField(Operation):
    kind = "rename_field"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.collection = collection_name(spec.str("collection"))
        self.source = field_path(spec.str("from"))
        self.target = field_path(spec.str("to"))
        self.filter = spec.mapping("filter", required=False, default={})
        if self.source == self.target or self.target.startswith(self.source + ".") or \
                self.source.startswith(self.target + "."):
            raise SpecError("'from' and 'to' must be different paths, neither inside the other")

    def selector(self) -> dict[str, Any]:
        has = {self.source: {"$exists": True}}
        return {"$and": [self.filter, has]} if self.filter else has

    def describe(self) -> str:
        return (f"db.{self.collection}.updateMany({show(self.selector())}, "
                f"{{$rename: {show({self.source: self.target})}}}) // in batches by _id")

    def destructive(self, env: OpEnv) -> list[str]:
        both = env.db[self.collection].count_documents(
            {"$and": [self.selector(), {self.target: {"$exists": True}}]}, limit=1000)
        if both:
            return [f"rename_field {self.collection}.{self.source} -> {self.target} overwrites {self.target} on "
                    f"{both}{'+' if both >= 1000 else ''} documents that have both"]
        return []

    def prepare(self, env: OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "from": self.source, "to": self.target, "touched": progress.TOUCHED}

    def execute(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        benv = env.batch("up")
        projection = parent_projection(self.target)

        def handler(docs: list[dict[str, Any]], writer: Writer, precise: bool) -> None:
            if precise:
                writer.call(lambda db, session: self._precise(db, session, docs, writer, env.index))
                return
            roots: dict[str, list[Any]] = {}
            for doc in docs:
                roots.setdefault(missing_root(doc, self.target), []).append(doc["_id"])
                writer.bulk_write(self.collection, [pymongo.UpdateOne(
                    {"_id": doc["_id"], self.source: {"$exists": True}}, {"$rename": {self.source: self.target}})])
            writer.expect[self.collection] = len(docs)
            writer.record_touched(env.index, {"renamed": [[root, ids] for root, ids in roots.items()]})

        stats = run_batches(benv, name=f"op{env.index}", collection=self.collection, flt=self.selector(),
                            projection=projection, handler=handler)
        env.queries.append(f"// rename_field {self.collection}.{self.source} -> {self.target}: {stats.documents} "
                           f"documents in {stats.batches} batches")

    def _precise(self, db: Any, session: Any, docs: list[dict[str, Any]], writer: Writer, index: int) -> None:
        roots: dict[str, list[Any]] = {}
        for doc in docs:
            before = db[self.collection].find_one_and_update(
                {"_id": doc["_id"], self.source: {"$exists": True}}, {"$rename": {self.source: self.target}},
                projection=parent_projection(self.target), session=session)
            if before is not None:
                roots.setdefault(missing_root(before, self.target), []).append(doc["_id"])
        writer.record_touched(index, {"renamed": [[root, ids] for root, ids in roots.items()]})

    def undo(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        coll = env.db[inverse["collection"]]
        source, target = inverse["from"], inverse["to"]

        def apply_record(record: dict[str, Any], session: Any) -> None:
            requests: list[Any] = []
            for root, ids in record.get("renamed", []):
                for _id in ids:
                    requests.append(pymongo.UpdateOne({"_id": _id, target: {"$exists": True}},
                                                      {"$rename": {target: source}}))
                    if root != target:  # the parent $rename created, now empty again
                        requests.append(pymongo.UpdateOne({"_id": _id, root: {}}, {"$unset": {root: ""}}))
            if requests:
                coll.bulk_write(requests, ordered=True, session=session)

        _undo_batches(env, apply_record)
        progress.forget_touched(env.db, env.version, env.index)

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return (f"db.{self.collection}.updateMany({{_id: {{$in: <the _ids rename_field changed>}}}}, "
                f"{{$rename: {show({self.target: self.source})}}}) // in the batches recorded")

"""add_field / rename_field, batched and resumable. Their inverse is the set of documents this migration
changed, recorded batch by batch in dbops_touched (with the batch, atomically where transactions exist): the
rollback unsets or renames back on exactly those documents, and removes any parent it had to create."""

from __future__ import annotations

from typing import Any, ClassVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import (
    BatchStats,
    Writer,
    run_batches,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base

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


class _BatchedFieldChange(base.CollectionOperation):
    """One change of a field path on every selected document, in batches by _id. Each batch records which
    documents it changed and which parent of the path each one lacked, so undo() reverts exactly those."""

    record_key: ClassVar[str] = ""  # the touched record's key: "unset" | "renamed"
    undo_ordered: ClassVar[bool] = False

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.filter: dict[str, Any] = {}
        self.due: dict[str, Any] = {}  # what a document matches while the change is still to be made on it
        self.change: dict[str, Any] = {}  # the update that makes it
        self.created = ""  # the path the change creates (its missing parents are removed again by undo)

    def summary(self, stats: BatchStats) -> str:
        raise NotImplementedError

    def undo_requests(self, record: dict[str, Any], inverse: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def selector(self) -> dict[str, Any]:
        return {"$and": [self.filter, self.due]} if self.filter else self.due

    def _record(self, writer: Writer, index: int, roots: dict[str, list[Any]]) -> None:
        writer.record_touched(index, {self.record_key: [[root, ids] for root, ids in roots.items()]})

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        created = self.created

        def handler(docs: list[dict[str, Any]], writer: Writer, precise: bool) -> None:
            if precise:
                writer.call(lambda db, session: self._precise(db, session, docs, writer, env.index))
                return
            roots: dict[str, list[Any]] = {}
            for doc in docs:
                roots.setdefault(missing_root(doc, created), []).append(doc["_id"])
                writer.bulk_write(self.collection, [pymongo.UpdateOne({"_id": doc["_id"], **self.due}, self.change)])
            writer.expect[self.collection] = len(docs)
            self._record(writer, env.index, roots)

        stats = run_batches(env.batch("up"), name=f"op{env.index}", collection=self.collection, flt=self.selector(),
                            projection=parent_projection(created), handler=handler)
        env.queries.append(self.summary(stats))

    def _precise(self, db: Any, session: Any, docs: list[dict[str, Any]], writer: Writer, index: int) -> None:
        """Document by document inside the transaction: only those the change is still due on are changed."""
        roots: dict[str, list[Any]] = {}
        for doc in docs:
            before = db[self.collection].find_one_and_update(
                {"_id": doc["_id"], **self.due}, self.change, projection=parent_projection(self.created),
                session=session)
            if before is not None:
                roots.setdefault(missing_root(before, self.created), []).append(doc["_id"])
        self._record(writer, index, roots)

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        coll = env.db[inverse["collection"]]

        def apply_record(record: dict[str, Any], session: Any) -> None:
            requests = self.undo_requests(record, inverse)
            if requests:
                coll.bulk_write(requests, ordered=self.undo_ordered, session=session)

        progress.undo_touched(env.db, env.version, env.index, env.transactions, apply_record)
        progress.forget_touched(env.db, env.version, env.index)


class AddField(_BatchedFieldChange):
    kind = "add_field"
    record_key = "unset"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.field = base.field_path(spec.str("field"))
        if "default" not in spec.args:
            raise base.SpecError("missing required key 'default' (the value given to documents that lack the field)")
        self.default = spec.any("default", required=False)
        self.filter = spec.mapping("filter", required=False, default={})
        self.due = {self.field: {"$exists": False}}
        self.change = {"$set": {self.field: self.default}}
        self.created = self.field

    def describe(self) -> str:
        setter = base.show({self.field: self.default})
        return (f"db.{self.collection}.updateMany({base.show(self.selector())}, {{$set: {setter}}})"
                " // in batches by _id, each batch's _ids recorded for the rollback")

    def summary(self, stats: BatchStats) -> str:
        return (f"// add_field {self.collection}.{self.field}: {stats.documents} documents in {stats.batches} "
                "batches" + (" (resumed)" if stats.resumed_after is not None else ""))

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "field": self.field, "touched": progress.TOUCHED}

    def undo_requests(self, record: dict[str, Any], inverse: dict[str, Any]) -> list[Any]:
        return [pymongo.UpdateOne({"_id": _id}, {"$unset": {path: ""}})
                for path, ids in record.get("unset", []) for _id in ids]

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return (f"db.{self.collection}.updateMany({{_id: {{$in: <the _ids add_field changed>}}}}, "
                f"{{$unset: {{{base.show(self.field)}: \"\"}}}}) // in the batches recorded")


class RenameField(_BatchedFieldChange):
    kind = "rename_field"
    record_key = "renamed"
    undo_ordered = True

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.source = base.field_path(spec.str("from"))
        self.target = base.field_path(spec.str("to"))
        self.filter = spec.mapping("filter", required=False, default={})
        if self.source == self.target or self.target.startswith(self.source + ".") or \
                self.source.startswith(self.target + "."):
            raise base.SpecError("'from' and 'to' must be different paths, neither inside the other")
        self.due = {self.source: {"$exists": True}}
        self.change = {"$rename": {self.source: self.target}}
        self.created = self.target

    def describe(self) -> str:
        return (f"db.{self.collection}.updateMany({base.show(self.selector())}, "
                f"{{$rename: {base.show({self.source: self.target})}}}) // in batches by _id")

    def summary(self, stats: BatchStats) -> str:
        return (f"// rename_field {self.collection}.{self.source} -> {self.target}: {stats.documents} documents in "
                f"{stats.batches} batches")

    def destructive(self, env: base.OpEnv) -> list[str]:
        both = env.db[self.collection].count_documents(
            {"$and": [self.selector(), {self.target: {"$exists": True}}]}, limit=1000)
        if both:
            return [f"rename_field {self.collection}.{self.source} -> {self.target} overwrites {self.target} on "
                    f"{both}{'+' if both >= 1000 else ''} documents that have both"]
        return []

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "from": self.source, "to": self.target, "touched": progress.TOUCHED}

    def undo_requests(self, record: dict[str, Any], inverse: dict[str, Any]) -> list[Any]:
        source, target = inverse["from"], inverse["to"]
        requests: list[Any] = []
        for root, ids in record.get("renamed", []):
            for _id in ids:
                requests.append(pymongo.UpdateOne({"_id": _id, target: {"$exists": True}},
                                                  {"$rename": {target: source}}))
                if root != target:  # the parent $rename created, now empty again
                    requests.append(pymongo.UpdateOne({"_id": _id, root: {}}, {"$unset": {root: ""}}))
        return requests

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return (f"db.{self.collection}.updateMany({{_id: {{$in: <the _ids rename_field changed>}}}}, "
                f"{{$rename: {base.show({self.target: self.source})}}}) // in the batches recorded")

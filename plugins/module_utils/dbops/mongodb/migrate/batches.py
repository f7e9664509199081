"""Batched, resumable work over a collection: keyset iteration by _id and atomic batch commits.

Iteration is by _id (never skip): one cursor sorted on _id (hinted to the _id index) starting after the
checkpoint; if the cursor dies it is reopened after the last _id seen, and once it is exhausted one more
query picks up documents inserted meanwhile with a higher _id.

Each batch's writes, the record of what it touched and its checkpoint are committed together:
- in one multi-document transaction where the server supports them (detected from hello, see topology.py), so
  a runner killed at any point leaves whole batches only, and a rerun resumes after the last one;
- elsewhere (standalone servers) the writes to the iterated documents carry a marker (MARK = the loop's
  token) in the same single-document update, the iteration skips marked documents, and the markers are removed
  when the loop ends; so an interrupted batch is redone without updating any document twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import progress

MARK = "_dbops_batch"
_REOPEN_ATTEMPTS = 5


@dataclass
class BatchEnv:
    """What batched work needs from the run."""

    db: Any
    version: str
    direction: str  # up | down
    batch_size: int
    pause_s: float
    transactions: bool
    check_lock: Callable[[], None] = lambda: None
    dry_run: bool = False
    planned: list[str] = field(default_factory=list)  # dry run: what would be written


@dataclass
class BatchStats:
    documents: int = 0
    batches: int = 0
    resumed_after: Any = None
    writes: int = 0


class ExpectationFailed(Exception):
    """A batch modified fewer documents than it read (a concurrent writer got in first): redo it precisely."""


class Writer:
    """The writes of one batch, buffered; the loop commits them with the checkpoint (atomically where possible)."""

    def __init__(self, source: str, marker: str | None) -> None:
        self.source = source
        self.marker = marker
        self.actions: list[tuple[str, Any, Any]] = []  # ("bulk", collection, [requests]) | ("call", fn, None)
        self.touched: list[tuple[int, dict[str, Any]]] = []
        self.expect: dict[str, int] = {}  # collection -> modified count the batch must reach (transactions only)

    # ---- for migration code (mongodb.py) --------------------------------------------------------------------------
    def _add(self, collection: str, request: Any) -> None:
        if self.actions and self.actions[-1][0] == "bulk" and self.actions[-1][1] == collection:
            self.actions[-1][2].append(request)
        else:
            self.actions.append(("bulk", collection, [request]))

    def _guard(self, collection: str, flt: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Without transactions, an update of an iterated document is made idempotent by the loop's marker."""
        if self.marker and collection == self.source and "_id" in flt:
            return {**flt, MARK: {"$ne": self.marker}}, True
        return flt, False

    def _marked_update(self, update: Any) -> Any:
        if isinstance(update, list):
            return [*update, {"$set": {MARK: self.marker}}]
        merged = dict(update)
        merged["$set"] = {**merged.get("$set", {}), MARK: self.marker}
        return merged

    def update_one(self, collection: str, filter: dict[str, Any], update: Any, *, upsert: bool = False,
                   array_filters: list[Mapping[str, Any]] | None = None) -> None:
        flt, marked = self._guard(collection, filter)
        self._add(collection, pymongo.UpdateOne(flt, self._marked_update(update) if marked else update,
                                                upsert=upsert, array_filters=array_filters))

    def replace_one(self, collection: str, filter: dict[str, Any], replacement: dict[str, Any], *,
                    upsert: bool = False) -> None:
        flt, marked = self._guard(collection, filter)
        doc = {**replacement, MARK: self.marker} if marked else replacement
        self._add(collection, pymongo.ReplaceOne(flt, doc, upsert=upsert))

    def update_many(self, collection: str, filter: dict[str, Any], update: Any) -> None:
        self._add(collection, pymongo.UpdateMany(filter, update))

    def insert_one(self, collection: str, document: dict[str, Any]) -> None:
        self._add(collection, pymongo.InsertOne(document))

    def insert_many(self, collection: str, documents: list[dict[str, Any]]) -> None:
        for doc in documents:
            self.insert_one(collection, doc)

    def delete_one(self, collection: str, filter: dict[str, Any]) -> None:
        self._add(collection, pymongo.DeleteOne(filter))

    def delete_many(self, collection: str, filter: dict[str, Any]) -> None:
        self._add(collection, pymongo.DeleteMany(filter))

    def bulk_write(self, collection: str, requests: list[Any]) -> None:
        """Raw pymongo requests: committed with the batch, but NOT marked (make them idempotent yourself)."""
        for request in requests:
            self._add(collection, request)

    # ---- for the engine's own operations ----------------------------------------------------------------------
    def call(self, fn: Callable[[Any, Any], None]) -> None:
        """fn(db, session) runs inside the batch's transaction (or plainly without transactions)."""
        self.actions.append(("call", fn, None))

    def record_touched(self, op_index: int, data: dict[str, Any]) -> None:
        self.touched.append((op_index, data))

    @property
    def write_count(self) -> int:
        return sum(len(a[2]) if a[0] == "bulk" else 1 for a in self.actions)


def keyset_batches(collection: Any, flt: dict[str, Any], projection: dict[str, Any] | None, after: Any,
                   batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of documents in _id order after `after`, by a cursor walking the _id index."""
    last = after
    reopened = 0
    caught_up = False
    while True:
        query = dict(flt)
        if last is not None:
            query = {"$and": [flt, {"_id": {"$gt": last}}]} if flt else {"_id": {"$gt": last}}
        cursor = collection.find(query, projection).sort("_id", 1).hint([("_id", 1)]).batch_size(batch_size)
        seen_any = False
        batch: list[dict[str, Any]] = []
        try:
            for doc in cursor:
                seen_any = True
                batch.append(doc)
                if len(batch) >= batch_size:
                    yield batch
                    last = batch[-1]["_id"]
                    batch = []
            if batch:
                yield batch
                last = batch[-1]["_id"]
        except (pymongo_errors.CursorNotFound, pymongo_errors.AutoReconnect) as exc:
            reopened += 1
            if reopened > _REOPEN_ATTEMPTS:
                raise MigrationFailed(f"reading {collection.name} failed {reopened} times: "
                                      f"{describe_error(exc)}") from exc
            continue  # reopen after the last _id committed
        finally:
            cursor.close()
        # One more pass picks up documents inserted (with a higher _id) while the cursor ran.
        if not seen_any or caught_up:
            return
        caught_up = True


def run_batches(env: BatchEnv, *, name: str, collection: str, flt: dict[str, Any] | None,
                projection: dict[str, Any] | None, handler: Callable[[list[dict[str, Any]], Writer, bool], None],
                ) -> BatchStats:
    """handler(docs, writer, precise) fills the writer; precise is True when a batch is redone one by one."""
    db = env.db
    stats = BatchStats()
    token = progress.key(env.version, env.direction, name)
    checkpoint = None if env.dry_run else progress.read_checkpoint(db, env.version, env.direction, name)
    after = checkpoint.get("last_id") if checkpoint else None
    stats.resumed_after = after
    marker = None if (env.transactions or env.dry_run) else token
    query = dict(flt or {})
    if marker:
        query = {"$and": [query, {MARK: {"$ne": marker}}]} if query else {MARK: {"$ne": marker}}
    for docs in keyset_batches(db[collection], query, projection, after, env.batch_size):
        env.check_lock()
        writer = Writer(collection, marker)
        handler(docs, writer, False)
        if env.dry_run:
            stats.writes += writer.write_count
        else:
            try:
                _commit(env, writer, name=name, collection=collection, last_id=docs[-1]["_id"], count=len(docs))
            except ExpectationFailed:
                writer = Writer(collection, marker)
                handler(docs, writer, True)
                _commit(env, writer, name=name, collection=collection, last_id=docs[-1]["_id"], count=len(docs))
            stats.writes += writer.write_count
        stats.documents += len(docs)
        stats.batches += 1
        if env.pause_s > 0:
            time.sleep(env.pause_s)
    if env.dry_run:
        return stats
    if marker:
        db[collection].update_many({MARK: marker}, {"$unset": {MARK: ""}})
    if checkpoint is None and stats.batches == 0:
        progress.save_checkpoint(db, env.version, env.direction, name, collection=collection, last_id=None,
                                 documents=0)
    progress.mark_done(db, env.version, env.direction, name)
    return stats


def _apply_actions(db: Any, writer: Writer, session: Any) -> None:
    for kind, target, requests in writer.actions:
        if kind == "call":
            target(db, session)
            continue
        result = db[target].bulk_write(requests, ordered=True, session=session)
        expected = writer.expect.get(target)
        if expected is not None and session is not None and result.modified_count < expected:
            raise ExpectationFailed(target)


def _commit(env: BatchEnv, writer: Writer, *, name: str, collection: str, last_id: Any, count: int) -> None:
    db = env.db
    if env.transactions:
        recorded = list(writer.touched)

        def body(session: Any) -> None:
            # with_transaction may run this again after a transient error: start from the handler's records.
            writer.touched[:] = recorded
            _apply_actions(db, writer, session)
            for op_index, data in writer.touched:
                progress.record_touched(db, env.version, op_index, data, session=session)
            progress.save_checkpoint(db, env.version, env.direction, name, collection=collection,
                                     last_id=last_id, documents=count, session=session)

        with db.client.start_session() as session:
            session.with_transaction(body)
        return
    # No transactions: what the batch may touch is recorded first, so a rollback after a crash mid-batch
    # still finds it; the marked updates make the replay of this batch skip what was done.
    for op_index, data in writer.touched:
        progress.record_touched(db, env.version, op_index, data)
    _apply_actions(db, writer, None)
    progress.save_checkpoint(db, env.version, env.direction, name, collection=collection, last_id=last_id,
                             documents=count)

"""Resumable progress of batched work: checkpoints (dbops_progress) and the documents each batch touched
(dbops_touched), written in the same transaction as the batch where the server has transactions.

A checkpoint is the last _id done by a named loop of a version and direction; a rerun after kill -9 starts
after it. Touched records are the inverse of row-level changes (add_field, rename_field, split_array): which
documents this migration changed, and how, so a rollback undoes exactly those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import (
    LAYOUT,
    LAYOUT_FIELD,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.ledger import now

PROGRESS = "dbops_progress"
TOUCHED = "dbops_touched"


def key(version: str, direction: str, name: str) -> str:
    return f"{version}:{direction}:{name}"


def read_checkpoint(db: Any, version: str, direction: str, name: str) -> dict[str, Any] | None:
    return db[PROGRESS].find_one({"_id": key(version, direction, name)})


def save_checkpoint(db: Any, version: str, direction: str, name: str, *, collection: str, last_id: Any,
                    documents: int, session: Any = None, status: str = "running") -> None:
    db[PROGRESS].update_one(
        {"_id": key(version, direction, name)},
        {"$set": {"version": version, "direction": direction, "name": name, "collection": collection,
                  "last_id": last_id, "status": status, "updated_at": now(), LAYOUT_FIELD: LAYOUT},
         "$inc": {"documents": documents, "batches": 1 if documents else 0},
         "$setOnInsert": {"started_at": now()}},
        upsert=True, session=session)


def mark_done(db: Any, version: str, direction: str, name: str, session: Any = None) -> None:
    db[PROGRESS].update_one({"_id": key(version, direction, name)},
                            {"$set": {"status": "done", "updated_at": now()}}, session=session)


def clear(db: Any, version: str, direction: str | None = None) -> None:
    query: dict[str, Any] = {"version": version}
    if direction:
        query["direction"] = direction
    db[PROGRESS].delete_many(query)


def record_touched(db: Any, version: str, op_index: int, data: dict[str, Any], session: Any = None) -> None:
    db[TOUCHED].insert_one({"version": version, "op": op_index, "at": now(), **data, LAYOUT_FIELD: LAYOUT},
                           session=session)


def touched(db: Any, version: str, op_index: int) -> Iterator[dict[str, Any]]:
    """The touched records of one operation, newest first (undo walks them backwards)."""
    yield from db[TOUCHED].find({"version": version, "op": op_index}).sort("_id", -1)


def forget_touched(db: Any, version: str, op_index: int | None = None, record_id: Any = None) -> None:
    query: dict[str, Any] = {"version": version}
    if op_index is not None:
        query["op"] = op_index
    if record_id is not None:
        query["_id"] = record_id
    db[TOUCHED].delete_many(query)


def undo_touched(db: Any, version: str, op_index: int, transactions: bool,
                 apply_record: Callable[[dict[str, Any], Any], None]) -> None:
    """Undo an operation's touched records newest first. Each record's undo and its deletion commit together
    (without transactions: in that order, and undoing a record twice is harmless), so a killed rollback resumes."""
    for record in list(touched(db, version, op_index)):
        if transactions:
            def body(session: Any, record: dict[str, Any] = record) -> None:
                apply_record(record, session)
                db[TOUCHED].delete_one({"_id": record["_id"]}, session=session)

            with db.client.start_session() as session:
                session.with_transaction(body)
        else:
            apply_record(record, None)
            db[TOUCHED].delete_one({"_id": record["_id"]})

"""The copy process's writes to its state document (layout: replication/mongo_copy_state.py), on the target.

Every write is one update_one of the one document, so a reader never sees half a change. ``applied`` and
``resume_token`` move together, only after the data they describe has been written (record_batch); the heartbeat
touches neither, so it can never claim data that is not there.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import (
    STATE_COLLECTION,
    STATE_DATABASE,
)

INITIAL_COPY = "initial_copy"
RUNNING = "running"
STOPPED = "stopped"
GAP = "gap"


def _state(client: Any) -> Any:
    return client[STATE_DATABASE][STATE_COLLECTION]


def _set(client: Any, database: str, fields: dict[str, Any], *, unset: tuple[str, ...] = ()) -> None:
    update: dict[str, Any] = {"$set": {**fields, "updated_at": utc_now()}}
    if unset:
        update["$unset"] = {name: "" for name in unset}
    _state(client).update_one({"_id": database}, update, upsert=True)


def begin_initial_copy(client: Any, database: str, direction: str, started_at: Any) -> None:
    """Before the first document is copied: no applied position yet, so nothing claims the target is in sync."""
    _set(client, database, {"status": INITIAL_COPY, "direction": direction, "initial_copy_done": False,
                            "started_at_cluster_time": started_at, "gap": None, "pid": os.getpid()},
         unset=("applied", "resume_token", "start_at"))


def finish_initial_copy(client: Any, database: str, started_at: Any) -> None:
    """All documents copied: the target holds at least every change up to the time the copy began."""
    _set(client, database, {"applied": started_at, "resume_token": None, "initial_copy_done": True})


def begin_at(client: Any, database: str, direction: str, start_at: Any, start_at_text: str | None) -> None:
    """A copy without initial copy: it follows the source from start_at (the reverse copy after a switch)."""
    _set(client, database, {"status": STOPPED, "direction": direction, "initial_copy_done": True,
                            "applied": start_at, "resume_token": None, "start_at": start_at_text, "gap": None,
                            "pid": os.getpid()})


def record_batch(client: Any, database: str, applied: Any, resume_token: Any) -> None:
    """After a batch is applied: its last event's cluster time and token (never ahead of the data)."""
    now = utc_now()
    _state(client).update_one({"_id": database}, {"$set": {
        "applied": applied, "resume_token": resume_token, "updated_at": now, "heartbeat_at": now,
        "status": RUNNING}}, upsert=True)


def record_heartbeat(client: Any, database: str) -> None:
    _set(client, database, {"heartbeat_at": utc_now(), "status": RUNNING, "pid": os.getpid()})


def record_stopped(client: Any, database: str) -> None:
    _set(client, database, {"status": STOPPED}, unset=("heartbeat_at",))


def record_gap(client: Any, database: str, message: str) -> None:
    _set(client, database, {"status": GAP, "gap": message}, unset=("heartbeat_at",))


def delete_state(client: Any, database: str) -> bool:
    return bool(_state(client).delete_one({"_id": database}).deleted_count)


def raw_state(client: Any, database: str) -> dict[str, Any] | None:
    """The whole document, with the fields the reader in replication/ does not model (start_at)."""
    return _state(client).find_one({"_id": database})

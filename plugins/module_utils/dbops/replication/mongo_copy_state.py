"""THE state document of a MongoDB copy kept by this collection: how far green has applied the source's changes.

Layout (on green, the copy): database ``dbops``, collection ``replication_state``, one document per source database:

    {_id: <source database name>, applied: Timestamp(<seconds>, <increment>), resume_token: <change stream token>,
     updated_at: <date>}

``applied`` is the cluster time of the newest source change the copy has written to green (a change event's
clusterTime), ``resume_token`` the change stream token to resume after it. The copy process writes the document
after each applied batch, in the same order as the data (never ahead of it); replication_sync only reads it.

The copy process (mongodb/copy/) adds what its supervision needs to the same document: ``status`` (initial_copy,
running, stopped, gap), ``gap`` (null, or why the copy cannot go on), ``heartbeat_at`` (written about every second
while the process runs, so any host can tell a live copy from a dead one), ``direction``, ``pid`` and
``initial_copy_done``. Readers that know only the fields above are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson

STATE_DATABASE = "dbops"
STATE_COLLECTION = "replication_state"


@dataclass(frozen=True)
class CopyState:
    source_database: str
    applied: Any  # bson.Timestamp
    resume_token: Any
    updated_at: datetime | None
    status: str | None = None
    gap: str | None = None
    heartbeat_at: datetime | None = None
    direction: str | None = None
    initial_copy_done: bool = False


def _utc_or_none(value: Any) -> datetime | None:
    return as_utc(value) if isinstance(value, datetime) else None


def state_from_document(document: dict[str, Any]) -> CopyState:
    return CopyState(source_database=str(document["_id"]), applied=document.get("applied"),
                     resume_token=document.get("resume_token"),
                     updated_at=_utc_or_none(document.get("updated_at")),
                     status=document.get("status"), gap=document.get("gap"),
                     heartbeat_at=_utc_or_none(document.get("heartbeat_at")), direction=document.get("direction"),
                     initial_copy_done=bool(document.get("initial_copy_done")))


def read_state(client: Any, source_database: str) -> CopyState | None:
    """The copy's state for that source database on green, or None when no copy has recorded one yet."""
    document = client[STATE_DATABASE][STATE_COLLECTION].find_one({"_id": source_database})
    return state_from_document(document) if document is not None else None


def record_applied(client: Any, source_database: str, applied: Any, resume_token: Any) -> None:
    """Write the state after a batch is applied (the copy process's side of the layout)."""
    if not isinstance(applied, bson.timestamp.Timestamp):
        applied = bson.timestamp.Timestamp(int(applied[0]), int(applied[1]))
    client[STATE_DATABASE][STATE_COLLECTION].update_one(
        {"_id": source_database},
        {"$set": {"applied": applied, "resume_token": resume_token, "updated_at": utc_now()}}, upsert=True)

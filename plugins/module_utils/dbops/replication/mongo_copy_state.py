"""THE state document of a MongoDB copy kept by this collection: how far green has applied the source's changes.

Layout (on green, the copy): database ``dbops``, collection ``replication_state``, one document per source database:

    {_id: <source database name>, applied: Timestamp(<seconds>, <increment>), resume_token: <change stream token>,
     updated_at: <date>}

``applied`` is the cluster time of the newest source change the copy has written to green (a change event's
clusterTime), ``resume_token`` the change stream token to resume after it. The copy process writes the document
after each applied batch, in the same order as the data (never ahead of it); replication_sync only reads it.
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


def state_from_document(document: dict[str, Any]) -> CopyState:
    updated = document.get("updated_at")
    return CopyState(source_database=str(document["_id"]), applied=document.get("applied"),
                     resume_token=document.get("resume_token"),
                     updated_at=as_utc(updated) if isinstance(updated, datetime) else None)


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

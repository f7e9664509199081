"""Whether the source's oplog still holds the copy's resume point.

SecantusDB does not fail a change stream whose resume point has left the oplog: it silently starts at the oldest
entry it still has, so the changes in between would be skipped without a word. So before every (re)start the copy
compares its resume point with the oldest oplog entry itself. The first entry in natural order is read (one
document): a query filtered on ts could be answered from anywhere in the oplog and prove nothing.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    position_of,
    position_text,
)

OPLOG_QUERY = "db.getSiblingDB('local').oplog.rs.find({}, {ts: 1}).sort({$natural: 1}).limit(1)"


def oldest_oplog_time(source_client: Any, queries: list[str]) -> Any:
    """The ts of the oldest entry in the source's oplog, or None when it has none (or no oplog)."""
    queries.append(OPLOG_QUERY)
    entry = source_client.local["oplog.rs"].find_one({}, {"ts": 1}, sort=[("$natural", 1)])
    return entry.get("ts") if entry is not None else None


def gap_message(database: str, resume_at: Any, oldest: Any) -> str | None:
    """Why the copy cannot resume (its resume point is older than the oldest entry), or None when it can."""
    if resume_at is None or oldest is None or position_of(oldest) <= position_of(resume_at):
        return None
    return (f"the copy of {database!r} would resume at cluster time {position_text(position_of(resume_at))}, but "
            f"the source's oldest oplog entry is {position_text(position_of(oldest))}: the changes in between are "
            "gone, so the copy refuses to go on with a hole. Run prepare again (mongodb_copy state=absent, then "
            "state=started with an initial copy), and size the source's oplog for the time a copy may be down")


def check_gap(source_client: Any, database: str, resume_at: Any, queries: list[str]) -> str | None:
    return gap_message(database, resume_at, oldest_oplog_time(source_client, queries))

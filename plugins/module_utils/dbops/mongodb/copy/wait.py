"""Waiting until a copy has applied a position of its source (the switch waits for the fence this way)."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import (
    CopyGapDetected,
    CopyWaitTimeout,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    parse_cluster_time,
    position_of,
    position_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import (
    STATE_COLLECTION,
    STATE_DATABASE,
    read_state,
)


def as_position(cluster_time: Any) -> int:
    """A position from a bson.Timestamp, "<seconds>:<increment>" text or a position already."""
    if isinstance(cluster_time, int):
        return cluster_time
    if isinstance(cluster_time, str):
        return parse_cluster_time(cluster_time)
    return position_of(cluster_time)


def newest_oplog_position(source_client: Any, queries: list[str] | None = None) -> int | None:
    """Position of the newest entry in the source's oplog (the last one in natural order), None without one."""
    if queries is not None:
        queries.append("db.getSiblingDB('local').oplog.rs.find({}, {ts: 1}).sort({$natural: -1}).limit(1)")
    entry = source_client.local["oplog.rs"].find_one({}, {"ts": 1}, sort=[("$natural", -1)])
    return position_of(entry["ts"]) if entry is not None and entry.get("ts") is not None else None


def wait_applied(target_client: Any, database: str, cluster_time: Any, timeout: float, *,
                 poll_interval: float = 0.05, queries: list[str] | None = None, source_client: Any = None) -> int:
    """Milliseconds waited until the copy's applied cluster time is at or past cluster_time.

    Reads the state document on the target (the copy writes it after the data); CopyWaitTimeout when the time is
    up, CopyGapDetected as soon as the copy has recorded a gap (it will never get there).

    A write's reply may carry an operationTime past the write's own oplog entry (the server's clock ticks for
    reads too), and a quiet source writes nothing after it: with source_client, the wait is for the earlier of
    cluster_time and the source's newest oplog entry (read once, now), which every acknowledged write precedes.
    """
    wanted = as_position(cluster_time)
    if source_client is not None:
        newest = newest_oplog_position(source_client, queries)
        if newest is not None:
            wanted = min(wanted, newest)
    if queries is not None:
        queries.append(f"{STATE_DATABASE}.{STATE_COLLECTION}.findOne({{_id: {database!r}}}) until applied >= "
                       f"{position_text(wanted)}")
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    while True:
        state = read_state(target_client, database)
        applied = position_of(state.applied) if state is not None and state.applied is not None else None
        if applied is not None and applied >= wanted:
            return int((time.monotonic() - started) * 1000)
        if state is not None and state.gap:
            raise CopyGapDetected(state.gap)
        if time.monotonic() >= deadline:
            raise CopyWaitTimeout(
                f"the MongoDB copy of {database!r} has applied "
                f"{position_text(applied) if applied is not None else 'nothing'} after {timeout:g}s, not yet "
                f"{position_text(wanted)}")
        time.sleep(poll_interval)

"""Lag of a MongoDB copy kept by this collection: the applied cluster time in its state document on green against
the source's newest cluster time (hello's lastWrite, else the operationTime a command returns).

A cluster time is a bson.Timestamp (seconds, increment); as a position it is seconds << 32 | increment, which sorts
like the Timestamps do. Lag in seconds is the difference of the seconds; a copy has no lag in bytes.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.lag import LagReading
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import (
    STATE_COLLECTION,
    STATE_DATABASE,
    read_state,
)

CLUSTER_TIME_TEXT = re.compile(r"^\s*(\d+)\s*[:,]\s*(\d+)\s*$")


class CopyStateMissing(DbopsError):
    """Green has no state document for the source database: no copy has applied anything yet."""


def timestamp_position(seconds: int, increment: int) -> int:
    return (int(seconds) << 32) | int(increment)


def position_of(timestamp: Any) -> int:
    """Position of a bson.Timestamp (or of anything with .time and .inc)."""
    return timestamp_position(timestamp.time, timestamp.inc)


def position_text(position: int) -> str:
    return f"{position >> 32}:{position & 0xFFFFFFFF}"


def parse_cluster_time(text: str) -> int:
    """A position from "<seconds>:<increment>" (how RV(replica_position) and target_time spell a cluster time)."""
    match = CLUSTER_TIME_TEXT.match(str(text))
    if not match:
        raise DbopsError(f"invalid cluster time {text!r}: expected <seconds>:<increment>, like 1796235965:7")
    return timestamp_position(int(match.group(1)), int(match.group(2)))


def newest_cluster_time(hello: dict[str, Any]) -> Any:
    """The source's newest write from a hello reply: lastWrite.opTime.ts on a replica set, else operationTime."""
    last = ((hello.get("lastWrite") or {}).get("opTime") or {}).get("ts")
    if last is not None:
        return last
    if hello.get("operationTime") is not None:
        return hello["operationTime"]
    raise DbopsError("the source reports no cluster time (hello has no lastWrite, no operationTime): a copy needs "
                     "a replica set or a sharded cluster as source")


def reading_from(hello: dict[str, Any], applied: Any) -> LagReading:
    source_ts = newest_cluster_time(hello)
    source = position_of(source_ts)
    replica = position_of(applied)
    return LagReading(replica_position=replica, source_position=source, lag_bytes=None,
                      lag_seconds=float(max(0, source_ts.time - applied.time)),
                      replica_text=position_text(replica), source_text=position_text(source))


def source_position(source_client: Any, queries: list[str]) -> int:
    queries.append("db.adminCommand({hello: 1})")
    return position_of(newest_cluster_time(source_client.admin.command("hello")))


def read_lag(source_client: Any, copy_client: Any, source_database: str, queries: list[str]) -> LagReading:
    queries.append(f"{STATE_DATABASE}.{STATE_COLLECTION}.findOne({{_id: {source_database!r}}})")
    state = read_state(copy_client, source_database)
    if state is None or state.applied is None:
        raise CopyStateMissing(f"green has no {STATE_DATABASE}.{STATE_COLLECTION} document for database "
                               f"{source_database!r}: is the copy running?")
    queries.append("db.adminCommand({hello: 1})")
    return reading_from(source_client.admin.command("hello"), state.applied)

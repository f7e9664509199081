"""Lag of a PostgreSQL replica, read on the source: a physical standby's replay LSN (pg_stat_replication) or a
logical subscriber's slot (pg_replication_slots.confirmed_flush_lsn).

Both are read on the source because that is where the position to compare with lives: lag in bytes is
pg_wal_lsn_diff(pg_current_wal_lsn(), <replica position>) computed by the server, and lag in seconds is the
walsender's replay_lag (the standby's replay timestamps; for a subscription its apply worker's feedback).
replay_lag turns NULL a while after the replica caught up with everything sent: then the lag is 0 seconds when the
replica's position is the one last sent, and unknown (None) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import parse_lsn
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.lag import LagReading

PHYSICAL = "physical"
LOGICAL = "logical"

# The furthest-behind walsender of that name: several standbys may share an application_name.
PHYSICAL_SQL = """SELECT application_name AS name, replay_lsn::text AS replica_lsn, sent_lsn::text AS sent_lsn,
       pg_current_wal_lsn()::text AS source_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_s
FROM pg_stat_replication WHERE application_name = {name}
ORDER BY replay_lsn NULLS FIRST LIMIT 1"""

LOGICAL_SQL = """SELECT s.slot_name AS name, s.confirmed_flush_lsn::text AS replica_lsn, r.sent_lsn::text AS sent_lsn,
       pg_current_wal_lsn()::text AS source_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
       EXTRACT(EPOCH FROM r.replay_lag)::float8 AS replay_lag_s
FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = {name} AND s.slot_type = 'logical'"""

SOURCE_POSITION_SQL = "SELECT pg_current_wal_lsn()::text"


class ReplicaNotFound(DbopsError):
    """The source has no walsender or slot of that name (never connected, or dropped)."""


@dataclass(frozen=True)
class PostgresReplica:
    """Which replica: a standby's application_name (physical) or a subscription's slot name (logical)."""

    kind: str
    name: str

    def describe(self) -> str:
        return f"standby {self.name!r}" if self.kind == PHYSICAL else f"replication slot {self.name!r}"


def reading_from_row(row: Mapping[str, Any]) -> LagReading:
    """A LagReading from one row of PHYSICAL_SQL or LOGICAL_SQL (names as in the SELECT lists)."""
    source = parse_lsn(row["source_lsn"])
    replica_text = row["replica_lsn"] or "0/0"
    replica = parse_lsn(replica_text)
    lag_bytes = max(0, int(row["lag_bytes"])) if row["lag_bytes"] is not None else max(0, source - replica)
    lag_seconds: float | None = None
    if row["replay_lag_s"] is not None:
        lag_seconds = max(0.0, float(row["replay_lag_s"]))
    elif row["sent_lsn"] is not None and replica >= parse_lsn(row["sent_lsn"]):
        lag_seconds = 0.0
    return LagReading(replica_position=replica, source_position=source, lag_bytes=lag_bytes,
                      lag_seconds=lag_seconds, replica_text=replica_text, source_text=row["source_lsn"])


def read_lag(conn: Any, replica: PostgresReplica, queries: list[str]) -> LagReading:
    template = PHYSICAL_SQL if replica.kind == PHYSICAL else LOGICAL_SQL
    query = sql.SQL(template).format(name=sql.Literal(replica.name)).as_string(conn)
    queries.append(query)
    cursor = conn.execute(query)
    row = cursor.fetchone()
    if row is None:
        raise ReplicaNotFound(f"the source has no {replica.describe()}: is the replica connected?")
    names = [column.name for column in cursor.description]
    return reading_from_row(dict(zip(names, row, strict=True)))


def source_position(conn: Any, queries: list[str]) -> int:
    """The source's newest WAL position now (the default target: everything written before the wait began)."""
    queries.append(SOURCE_POSITION_SQL)
    return parse_lsn(conn.execute(SOURCE_POSITION_SQL).fetchone()[0])

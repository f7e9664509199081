"""The replication_sync module's engine: wait until a replica has caught up with a position on its source.

Three kinds of replica, each read through its own reader and judged by the one rule (replication/lag.CatchUpRule):
a PostgreSQL physical standby (its replay LSN in the primary's pg_stat_replication), a logical subscriber (its
slot's confirmed_flush_lsn on the publisher), and a MongoDB copy kept by this collection (the applied cluster
time in its state document on green). The target is target_lsn / target_time when given, else the limits
max_lag_bytes / max_lag_seconds when given, else the source's newest position when the wait begins. Nothing is
ever changed; check mode reads once and waits for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected as mongo_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connected as pg_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import format_lsn, parse_lsn
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication import mongo_copy_lag, postgres_lag
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.lag import CatchUpRule
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.wait import Reader, wait_for_catch_up

MONGODB = "mongodb"
KINDS = (postgres_lag.PHYSICAL, postgres_lag.LOGICAL, MONGODB)


@dataclass(frozen=True)
class ReplicationSyncRequest:
    kind: str
    source: DatabaseConnections
    replica_name: str | None = None  # physical: the standby's application_name; logical: the slot name
    copy_uri: str | None = None  # mongodb: green, where the copy keeps its state document
    target_lsn: str | None = None
    target_time: str | None = None
    max_lag_bytes: int | None = None
    max_lag_seconds: float | None = None
    timeout: float = 300.0
    poll_interval: float = 0.5
    check_mode: bool = False


@dataclass
class ReplicationSyncResult(JobReport):
    changed: bool
    caught_up: bool
    lag_bytes: int | None
    lag_seconds: float | None
    waited_ms: int
    replica_position: str
    source_position: str
    target_position: str | None


def validate(request: ReplicationSyncRequest) -> None:
    """Every argument problem, named, before anything connects."""
    if request.kind not in KINDS:
        raise DbopsError(f"kind must be one of {', '.join(KINDS)}, not {request.kind!r}")
    if request.kind == MONGODB:
        request.source.require_mongodb()
        if not request.copy_uri:
            raise DbopsError("kind=mongodb needs copy_uri (green, where the copy keeps its state)")
        if request.target_lsn:
            raise DbopsError("target_lsn is for PostgreSQL; a MongoDB copy takes target_time")
        if request.max_lag_bytes is not None:
            raise DbopsError("max_lag_bytes is for PostgreSQL; a MongoDB copy has no lag in bytes")
        if request.target_time:
            mongo_copy_lag.parse_cluster_time(request.target_time)
    else:
        request.source.require_postgres()
        if not request.replica_name:
            raise DbopsError(f"kind={request.kind} needs replica_name (the standby's application_name or the "
                             "subscription's slot name)")
        if request.target_time:
            raise DbopsError("target_time is for a MongoDB copy; PostgreSQL takes target_lsn")
        if request.target_lsn:
            parse_lsn(request.target_lsn)
    if request.timeout <= 0 or request.poll_interval <= 0:
        raise DbopsError("timeout and poll_interval must be > 0")
    for name in ("max_lag_bytes", "max_lag_seconds"):
        value = getattr(request, name)
        if value is not None and value < 0:
            raise DbopsError(f"{name} must be >= 0")


@dataclass(frozen=True)
class _ReplicaAccess:
    """What the wait needs of one replica kind: its reader, the source's newest position, how positions read."""

    read: Reader
    newest: Callable[[list[str]], int]
    given_target: int | None
    spell: Callable[[int], str]
    describe: str


def sync_replica(request: ReplicationSyncRequest) -> ReplicationSyncResult:
    validate(request)
    with ExitStack() as stack:
        access = _mongodb_access(request, stack) if request.kind == MONGODB else _postgres_access(request, stack)
        return _wait(request, access)
    raise DbopsError("unreachable")  # pragma: no cover - ExitStack does not swallow


def _mongodb_access(request: ReplicationSyncRequest, stack: ExitStack) -> _ReplicaAccess:
    uri, database = request.source.require_mongodb()
    source = stack.enter_context(mongo_connected(uri, "reading the source's cluster time"))
    copy = stack.enter_context(mongo_connected(request.copy_uri or "", "reading the copy's state"))
    return _ReplicaAccess(
        read=lambda into: mongo_copy_lag.read_lag(source, copy, database, into),
        newest=lambda into: mongo_copy_lag.source_position(source, into),
        given_target=mongo_copy_lag.parse_cluster_time(request.target_time) if request.target_time else None,
        spell=mongo_copy_lag.position_text, describe=f"the MongoDB copy of {database!r}")


def _postgres_access(request: ReplicationSyncRequest, stack: ExitStack) -> _ReplicaAccess:
    conn = stack.enter_context(pg_connected(request.source.require_postgres(), "reading replication lag"))
    replica = postgres_lag.PostgresReplica(request.kind, request.replica_name or "")
    return _ReplicaAccess(
        read=lambda into: postgres_lag.read_lag(conn, replica, into),
        newest=lambda into: postgres_lag.source_position(conn, into),
        given_target=parse_lsn(request.target_lsn) if request.target_lsn else None,
        spell=format_lsn, describe=replica.describe())


def _wait(request: ReplicationSyncRequest, access: _ReplicaAccess) -> ReplicationSyncResult:
    queries: list[str] = []
    limits = request.max_lag_bytes is not None or request.max_lag_seconds is not None
    # No target and no limits: "caught up" means with everything the source had written when the wait began.
    target = access.given_target
    if target is None and not limits:
        target = access.newest(queries)
    rule = CatchUpRule(target=target, max_lag_bytes=request.max_lag_bytes, max_lag_seconds=request.max_lag_seconds)
    outcome = wait_for_catch_up(access.read, rule, timeout=request.timeout, poll_interval=request.poll_interval,
                                queries=queries, check_mode=request.check_mode, describe=access.describe)
    reading = outcome.reading
    return ReplicationSyncResult(
        changed=False, caught_up=outcome.caught_up, lag_bytes=reading.lag_bytes, lag_seconds=reading.lag_seconds,
        waited_ms=outcome.waited_ms, replica_position=reading.replica_text, source_position=reading.source_text,
        target_position=access.spell(target) if target is not None else None, queries=queries)

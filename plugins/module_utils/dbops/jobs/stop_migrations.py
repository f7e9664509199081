"""The migration_stop module's engine: stop every running migrate on the databases given, and wait until it is gone.

PostgreSQL first (the runner's session is found by the advisory lock it holds, cancelled, then terminated after
the grace period), then MongoDB (the owner of the lock document: asked to stop through the lock, then signalled
where it runs on this host, then its operations killed). Stopping is what a crash does to a run, so the engine's
resume rules decide what the next migrate run does with the set that was under way. Check mode only reports what
it finds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected as mongo_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import runner_stop as mongo_stop
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connected as pg_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import runner_stop as pg_stop


@dataclass(frozen=True)
class StopMigrationsRequest:
    databases: DatabaseConnections
    grace_period: float = 10.0
    wait_timeout: float = 60.0
    check_mode: bool = False


@dataclass
class StopMigrationsResult(JobReport):
    changed: bool
    postgres: list[dict[str, Any]] = field(default_factory=list)
    mongodb: dict[str, Any] | None = None
    other_sessions: int = 0
    running: bool = False  # a runner was found (and, outside check mode, stopped)


def stop_migrations(request: StopMigrationsRequest) -> StopMigrationsResult:
    result = StopMigrationsResult(changed=False)
    if request.databases.postgres_dsn:
        _stop_postgres(request, result)
    if request.databases.mongodb_uri:
        _stop_mongodb(request, result)
    result.running = bool(result.postgres or result.mongodb)
    return result


def _stop_postgres(request: StopMigrationsRequest, result: StopMigrationsResult) -> None:
    dsn = request.databases.require_postgres()
    with pg_connected(dsn, "to stop running migrations") as conn:
        sessions = pg_stop.runner_sessions(conn, result.queries)
        result.other_sessions = pg_stop.other_collection_sessions(conn, sessions)
        if not request.check_mode:
            sessions = [pg_stop.stop_session(conn, session, grace_s=request.grace_period,
                                             wait_s=request.wait_timeout, queries=result.queries)
                        for session in sessions]
            result.changed = result.changed or bool(sessions)
    result.postgres = [asdict(session) for session in sessions]


def _stop_mongodb(request: StopMigrationsRequest, result: StopMigrationsResult) -> None:
    uri, database = request.databases.require_mongodb()
    with mongo_connected(uri, "to stop running migrations") as client:
        lock = mongo_stop.stop_runner(client[database], grace_s=request.grace_period, wait_s=request.wait_timeout,
                                      check_mode=request.check_mode, queries=result.queries)
    if lock is None:
        return
    result.mongodb = asdict(lock)
    result.changed = result.changed or lock.acted
    if not lock.released and not request.check_mode:
        result.warnings.append(f"the MongoDB migration lock of {database} is still held by {lock.owner}: "
                               + "; ".join(lock.steps))

"""The restore module's engine: bring PostgreSQL and/or MongoDB back to a recovery point, a time or an LSN.

Both engines are planned and validated before either is touched: a target one of them cannot reach fails the
whole restore up front with nothing changed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore as mongo_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    PgRestore,
    PgRestoreRequest,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions


@dataclass(frozen=True)
class RestoreRequest:
    repository: RepositoryOptions
    databases: DatabaseConnections
    # name and time are the MongoDB target too (unless mongodb_target_timestamp); lsn, timeline, backup_id are
    # PostgreSQL's only.
    target: PgTargetSpec = field(default_factory=PgTargetSpec)
    mongodb_target_timestamp: str | None = None
    cluster: ClusterOnHost = field(default_factory=lambda: ClusterOnHost(pgdata=""))  # pgdata "": not given
    restore_command: str | None = None
    timeout: float = 1800.0
    check_mode: bool = False
    progress_file: str | None = None  # where the restore records its progress (progress_info reads it)


@dataclass
class RestoreResult(JobReport):
    changed: bool = False
    recovered_to: dict[str, Any] = field(default_factory=dict)
    duration_ms: int = 0
    verified: bool = False
    backup_id: str | None = None
    moved_aside: str | None = None
    timeline: int | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    postgres: dict[str, Any] | None = None
    mongodb: dict[str, Any] | None = None
    steps: list[str] = field(default_factory=list)


def run_restore(request: RestoreRequest) -> RestoreResult:
    target, databases = request.target, request.databases
    targets = [t for t in (target.name, target.time, target.lsn, request.mongodb_target_timestamp) if t]
    if not targets:
        raise RestoreError("give a target: target_name, target_time, target_lsn or mongodb_target_timestamp")
    if target.lsn and databases.mongodb_uri and not request.mongodb_target_timestamp:
        raise RestoreError("target_lsn is a PostgreSQL position; for MongoDB also give mongodb_target_timestamp")
    if not databases.postgres_dsn and not databases.mongodb_uri:
        raise RestoreError("nothing to restore: give postgres_dsn (with pgdata) and/or mongodb_uri")
    clock = time.monotonic()
    repo = request.repository.open()
    result = RestoreResult()

    pg: PgRestore | None = None
    mongo_plan: mongo_restore.RestorePlan | None = None
    if databases.postgres_dsn and (target.name or target.time or target.lsn):
        pg = PgRestore(PgRestoreRequest(
            repo=repo, postgres_dsn=databases.postgres_dsn, target=target, cluster=request.cluster,
            restore_command=request.restore_command, timeout=request.timeout, check_mode=request.check_mode,
            progress_file=request.progress_file,
        ))
    if databases.mongodb_uri:
        mongo_plan = _plan_mongodb(request, repo)  # validates before PostgreSQL is touched

    try:
        if pg is not None:
            pg_result = pg.run()
            result.postgres = asdict(pg_result)
            result.plan["postgres"] = pg_result.plan
            result.backup_id = pg_result.backup_id
            result.moved_aside = pg_result.moved_aside
            result.timeline = pg_result.timeline
            result.recovered_to["postgres"] = pg_result.recovered_to or {"target": pg_result.plan.get("target")}
            result.steps += [f"postgres: {step}" for step in pg_result.steps]
            result.queries += pg_result.queries
            result.warnings += pg_result.warnings
            result.changed = result.changed or pg_result.changed
        if mongo_plan is not None:
            mongo_result = _restore_mongodb(request, repo, mongo_plan)
            result.mongodb = mongo_result
            result.plan["mongodb"] = mongo_result.get("plan")
            result.recovered_to["mongodb"] = mongo_result.get("recovered_to")
            result.steps += [f"mongodb: {step}" for step in mongo_result.get("steps", [])]
            result.warnings += mongo_result.get("warnings", [])
            result.changed = result.changed or bool(mongo_result.get("changed"))
    except RestoreError:
        raise
    except DbopsError as exc:
        raise RestoreError(str(exc)) from exc
    if not request.check_mode:
        verified = []
        if result.postgres is not None:
            verified.append(bool(result.postgres.get("verified")))
        if result.mongodb is not None:
            verified.append(bool(result.mongodb.get("verified")))
        result.verified = all(verified) and bool(verified)
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    return result


def _mongodb_target(request: RestoreRequest, repo: Repository) -> Any:
    return mongodb_target(repo, request.target, request.mongodb_target_timestamp)


def mongodb_target(repo: Repository, target: PgTargetSpec, timestamp: str | None) -> Any:
    """The MongoDB target: a recovery point's cluster time, an explicit timestamp, or the wall-clock time."""
    if timestamp:
        return timestamp
    name = target.name
    if name:
        point = Catalog(repo).get_recovery_point(name)
        if point is None:
            raise RestoreError(f"recovery point {name!r} does not exist in the catalog of "
                               f"{repo.describe()}; nothing was touched")
        if not point.mongodb:
            raise RestoreError(f"recovery point {name!r} has no MongoDB position; nothing was touched")
        return point.mongodb
    return {"wall_time": target.time}


def _plan_mongodb(request: RestoreRequest, repo: Repository) -> mongo_restore.RestorePlan:
    uri, database = request.databases.require_mongodb()
    return mongo_restore.plan_restore(uri, repo, database, _mongodb_target(request, repo))


def _restore_mongodb(request: RestoreRequest, repo: Repository, plan: mongo_restore.RestorePlan) -> dict[str, Any]:
    uri, database = request.databases.require_mongodb()
    outcome = mongo_restore.restore(uri, repo, database, _mongodb_target(request, repo),
                                    check_mode=request.check_mode, plan=plan, progress_file=request.progress_file)
    result = outcome.to_dict()
    result["steps"] = list(plan.actions) if request.check_mode else [f"restored {plan.database} from dump "
                                                                     f"{plan.backup_id}, replayed "
                                                                     f"{outcome.applied_entries} change(s)"]
    return result

"""The restore module's engine: bring PostgreSQL and/or MongoDB back to a recovery point, a time or an LSN.

Both engines are planned and validated before either is touched: a target one of them cannot reach fails the
whole restore up front with nothing changed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore as mongo_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    PgRestore,
    PgRestoreRequest,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import DEFAULT_BIN_DIR
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions


@dataclass(frozen=True)
class RestoreRequest:
    repository: RepositoryOptions
    target_name: str | None = None
    target_time: str | None = None
    target_lsn: str | None = None
    target_timeline: str | None = None
    mongodb_target_timestamp: str | None = None
    backup_id: str | None = None
    postgres_dsn: str | None = None
    pgdata: str | None = None
    pg_bin_dir: str = DEFAULT_BIN_DIR
    pg_os_user: str | None = None
    restore_command: str | None = None
    log_file: str | None = None
    timeout: float = 1800.0
    mongodb_uri: str | None = None
    mongodb_database: str | None = None
    check_mode: bool = False


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
    targets = [t for t in (request.target_name, request.target_time, request.target_lsn,
                           request.mongodb_target_timestamp) if t]
    if not targets:
        raise RestoreError("give a target: target_name, target_time, target_lsn or mongodb_target_timestamp")
    if request.target_lsn and request.mongodb_uri and not request.mongodb_target_timestamp:
        raise RestoreError("target_lsn is a PostgreSQL position; for MongoDB also give mongodb_target_timestamp")
    if not request.postgres_dsn and not request.mongodb_uri:
        raise RestoreError("nothing to restore: give postgres_dsn (with pgdata) and/or mongodb_uri")
    clock = time.monotonic()
    repo = request.repository.open()
    result = RestoreResult()

    pg: PgRestore | None = None
    mongo_plan: Any = None
    if request.postgres_dsn and (request.target_name or request.target_time or request.target_lsn):
        pg = PgRestore(PgRestoreRequest(
            repo=repo, postgres_dsn=request.postgres_dsn,
            target=PgTargetSpec(name=request.target_name, time=request.target_time, lsn=request.target_lsn,
                                timeline=request.target_timeline, backup_id=request.backup_id),
            cluster=ClusterOnHost(pgdata=request.pgdata or "", bin_dir=request.pg_bin_dir,
                                  os_user=request.pg_os_user, log_file=request.log_file),
            restore_command=request.restore_command, timeout=request.timeout, check_mode=request.check_mode,
        ))
    if request.mongodb_uri:
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


def _mongodb_target(request: RestoreRequest, repo) -> Any:
    """The MongoDB target: a recovery point's cluster time, an explicit timestamp, or the wall-clock time."""
    if request.mongodb_target_timestamp:
        return request.mongodb_target_timestamp
    if request.target_name:
        point = Catalog(repo).get_recovery_point(request.target_name)
        if point is None:
            raise RestoreError(f"recovery point {request.target_name!r} does not exist in the catalog of "
                               f"{repo.describe()}; nothing was touched")
        if not point.mongodb:
            raise RestoreError(f"recovery point {request.target_name!r} has no MongoDB position; nothing was touched")
        return point.mongodb
    return {"wall_time": request.target_time}


def _plan_mongodb(request: RestoreRequest, repo) -> Any:
    return mongo_restore.plan_restore(request.mongodb_uri, repo, request.mongodb_database,
                                      _mongodb_target(request, repo))


def _restore_mongodb(request: RestoreRequest, repo, plan: Any) -> dict[str, Any]:
    outcome = mongo_restore.restore(request.mongodb_uri, repo, request.mongodb_database,
                                    _mongodb_target(request, repo), check_mode=request.check_mode, plan=plan)
    result = outcome.to_dict()
    result["steps"] = list(plan.actions) if request.check_mode else [f"restored {plan.database} from dump "
                                                                     f"{plan.backup_id}, replayed "
                                                                     f"{outcome.applied_entries} change(s)"]
    return result

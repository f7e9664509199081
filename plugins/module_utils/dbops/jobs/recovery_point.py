"""The recovery_point module's engine: one name for a PostgreSQL WAL position and a MongoDB cluster time.

PostgreSQL: a restore point in its own statement, a WAL switch, and a wait until that segment is in the archive.
MongoDB: the cluster time at that moment, and a wait until the change archive has captured past it. Only when both
are safely archived is the point written to the catalog, so a listed point is always reachable.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.object_inventory import (
    inventory_record,
    mongodb_collections,
    postgres_tables,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import (
    recovery_time as mongo_recovery_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected as mongo_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.restore_point import (
    create_pg_recovery_point,
    planned_statements,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    Catalog,
    RecoveryPointRecord,
    validate_name,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions


@dataclass(frozen=True)
class RecoveryPointRequest:
    name: str
    repository: RepositoryOptions
    databases: DatabaseConnections
    wait_timeout: float = 300.0
    overwrite: bool = False
    check_mode: bool = False


@dataclass
class RecoveryPointResult(JobReport):
    changed: bool
    name: str
    time: str | None = None
    lsn: str | None = None
    wal_file: str | None = None
    internal_name: str | None = None
    oplog_ts: dict[str, int] | None = None
    point: dict[str, Any] | None = None


def _result_from(point: RecoveryPointRecord, changed: bool, queries: list[str]) -> RecoveryPointResult:
    pg = point.postgres or {}
    mongo = point.mongodb or {}
    return RecoveryPointResult(
        changed=changed, name=point.name, time=point.created_at, lsn=pg.get("lsn"), wal_file=pg.get("wal_file"),
        internal_name=pg.get("internal_name"), oplog_ts=mongo.get("cluster_time"), point=asdict(point),
        queries=queries,
    )


def create_recovery_point(request: RecoveryPointRequest) -> RecoveryPointResult:
    validate_name(request.name)
    databases = request.databases
    if not databases.postgres_dsn and not databases.mongodb_uri:
        raise BackupError("a recovery point needs postgres_dsn and/or mongodb_uri")
    if databases.mongodb_uri and not databases.mongodb_database:
        raise BackupError("mongodb_database is required with mongodb_uri")
    repo = request.repository.open()
    catalog = Catalog(repo)
    existing = catalog.get_recovery_point(request.name)
    if existing is not None and not request.overwrite:
        # Idempotent: the name already pins a point; a rerun must not move it silently.
        result = _result_from(existing, False, [])
        result.warnings.append(f"recovery point {request.name!r} already exists (created {existing.created_at}); "
                               "set overwrite to take a new one under the same name")
        return result
    if request.check_mode:
        planned = planned_statements(request.name) if databases.postgres_dsn else []
        if databases.mongodb_uri:
            planned.append(f"read the cluster time of {databases.mongodb_database} and wait for the change archive")
        return RecoveryPointResult(changed=True, name=request.name, queries=planned)

    queries: list[str] = []
    created = utc_now()
    postgres: dict[str, Any] | None = None
    mongodb: dict[str, Any] | None = None
    clock = time.monotonic()
    try:
        if databases.postgres_dsn:
            with connect(databases.postgres_dsn) as conn:
                postgres = asdict(create_pg_recovery_point(conn, repo, request.name,
                                                           wait_timeout=request.wait_timeout, queries=queries))
                # Which tables exist at the point: the emergency assessment finds the ones dropped since.
                postgres["inventory"] = inventory_record(tables=postgres_tables(conn, queries))
        if databases.mongodb_uri:
            remaining = max(request.wait_timeout - (time.monotonic() - clock), 5.0)
            mongodb = _mongodb_point(request, repo, remaining, queries)
    except BackupError:
        raise
    except DbopsError as exc:
        raise BackupError(f"recovery point {request.name!r} could not be taken: {exc}") from exc
    point = RecoveryPointRecord(name=request.name, created_at=to_iso(created), postgres=postgres, mongodb=mongodb)
    catalog.add_recovery_point(point)
    catalog.write_snapshot()
    return _result_from(point, True, queries)


def _mongodb_point(request: RecoveryPointRequest, repo: Repository, timeout: float,
                   queries: list[str]) -> dict[str, Any]:
    uri, database = request.databases.require_mongodb()
    record = mongo_recovery_time.take_recovery_time(uri, repo, database, timeout_s=timeout)
    queries.append(f"cluster time of {database}; change archive flushed past it")
    with mongo_connected(uri, "listing the collections of the recovery point") as client:
        record["inventory"] = inventory_record(collections=mongodb_collections(client, database, queries))
    return record

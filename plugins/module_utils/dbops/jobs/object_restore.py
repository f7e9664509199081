"""The object_restore module's engine: tables and collections as they were at a point in time, restored beside
the live ones (a side schema, a side database) and, with copy_back, put back into the live database.

Both sides are planned before anything is touched: the PostgreSQL base backup and every WAL file recovery needs
are checked (pitr_restore.plan_pg_restore, once: the side cluster recovers from that plan), and the MongoDB dump
and change archive that reach the target are chosen. A table or collection that did not exist at the target fails
the run before anything is copied back. The live clusters are never stopped: PostgreSQL is recovered into a
throwaway cluster on another port (postgres/restore/side_cluster.py), MongoDB into the side database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import mongodb_target
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connect_tz_aware
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import collection_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore import table_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    PgRestorePlan,
    PgRestoreRequest,
    plan_pg_restore,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.side_cluster import side_cluster
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import PgBinaries
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions

DEFAULT_SIDE_SCHEMA = "dbops_recovered"


@dataclass(frozen=True)
class ObjectRestoreRequest:
    repository: RepositoryOptions
    databases: DatabaseConnections
    target: PgTargetSpec = field(default_factory=PgTargetSpec)
    mongodb_target_timestamp: str | None = None
    tables: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    side_schema: str = DEFAULT_SIDE_SCHEMA
    side_database: str | None = None  # None: <database>_recovered
    copy_back: bool = False
    cluster: ClusterOnHost = field(default_factory=lambda: ClusterOnHost(pgdata=""))  # bin dir and OS user only
    restore_command: str | None = None
    timeout: float = 1800.0
    check_mode: bool = False


@dataclass
class ObjectRestoreResult(JobReport):
    changed: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    duration_ms: int = 0


def validate(request: ObjectRestoreRequest) -> list[table_restore.TableName]:
    if not request.tables and not request.collections:
        raise RestoreError("nothing to restore: give tables and/or collections")
    if not any((request.target.name, request.target.time, request.target.lsn, request.mongodb_target_timestamp)):
        raise RestoreError("give a target: target_name, target_time, target_lsn or mongodb_target_timestamp")
    if request.tables and not request.databases.postgres_dsn:
        raise RestoreError("tables need postgres_dsn")
    if request.collections and not (request.databases.mongodb_uri and request.databases.mongodb_database):
        raise RestoreError("collections need mongodb_uri and mongodb_database")
    if request.tables and not (request.target.name or request.target.time or request.target.lsn):
        raise RestoreError("tables need a PostgreSQL target: target_name, target_time or target_lsn")
    tables = [table_restore.TableName.parse(text) for text in request.tables]
    if any(table.schema == request.side_schema for table in tables):
        raise RestoreError(f"side_schema {request.side_schema!r} is the schema of a table to restore: choose another")
    return tables


def run_object_restore(request: ObjectRestoreRequest) -> ObjectRestoreResult:
    clock = time.monotonic()
    tables = validate(request)
    repo = request.repository.open()
    result = ObjectRestoreResult()
    # Every WAL file recovery needs is checked before anything is started, once: the side cluster uses this plan.
    pg_plan = plan_pg_restore(repo, Catalog(repo), request.target, result.steps) if tables else None
    mongo = _mongo_plan(request, repo) if request.collections else None
    if pg_plan is not None:
        result.plan["postgres"] = {**pg_plan.as_dict(), "tables": [str(table) for table in tables],
                                   "side_schema": request.side_schema}
    if mongo is not None:
        result.plan["mongodb"] = {**mongo[1].to_dict(), "collections": list(request.collections)}
    result.changed = True  # every run restores again (check mode: would)
    if request.check_mode:
        result.objects = [{"kind": "table", "name": str(table), "rows": None, "side": f"{request.side_schema}."
                           f"{table.name}", "copied_back": False} for table in tables]
        result.objects += [{"kind": "collection", "name": name, "rows": None,
                            "side": f"{mongo[0]}.{name}" if mongo else name, "copied_back": False}
                           for name in request.collections]
        result.duration_ms = int((time.monotonic() - clock) * 1000)
        return result
    try:
        if pg_plan is not None:
            _restore_tables(request, repo, pg_plan, tables, result)
        if mongo is not None:
            _restore_collections(request, repo, mongo, result)
    except RestoreError:
        raise
    except DbopsError as exc:
        raise RestoreError(str(exc)) from exc
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    return result


def _restore_tables(request: ObjectRestoreRequest, repo: Any, plan: PgRestorePlan,
                    tables: list[table_restore.TableName], result: ObjectRestoreResult) -> None:
    live_dsn = request.databases.require_postgres()
    binaries = PgBinaries(request.cluster.bin_dir)
    # The side cluster itself turns off the live-server steps (WAL flush, archiving check) of a restore.
    pg_request = PgRestoreRequest(repo=repo, postgres_dsn=live_dsn, target=request.target, cluster=request.cluster,
                                  restore_command=request.restore_command, timeout=request.timeout)
    with side_cluster(pg_request, plan) as side:
        result.steps += [f"side cluster: {step}" for step in side.restored.steps]
        rows = table_restore.stage(side.dsn, live_dsn, tables, request.side_schema, binaries, result.queries)
    for table in tables:
        record: dict[str, Any] = {"kind": "table", "name": str(table), "rows": rows[str(table)],
                                  "side": f"{request.side_schema}.{table.name}", "copied_back": False}
        if request.copy_back:
            record["how"] = table_restore.copy_back(live_dsn, table, request.side_schema, result.queries)
            record["copied_back"] = True
        result.objects.append(record)


def _mongo_plan(request: ObjectRestoreRequest, repo: Any) -> tuple[str, Any, Any]:
    uri, database = request.databases.require_mongodb()
    side = request.side_database or collection_restore.side_database_name(database)
    if side == database:
        raise RestoreError(f"side_database {side!r} is the live database: choose another")
    target = mongodb_target(repo, request.target, request.mongodb_target_timestamp)
    return side, collection_restore.plan(uri, repo, database, target, side), target


def _restore_collections(request: ObjectRestoreRequest, repo: Any, mongo: tuple[str, Any, Any],
                         result: ObjectRestoreResult) -> None:
    uri, database = request.databases.require_mongodb()
    side, plan, target = mongo
    client = connect_tz_aware(uri)
    try:
        restored = collection_restore.stage(uri, repo, database, target, side, plan, client)
        result.queries.append(f"restore {database} as of {restored.recovered_to} into {side}")
        counts = {name: collection_restore.side_count(client, side, name) for name in request.collections}
        for name in request.collections:
            record: dict[str, Any] = {"kind": "collection", "name": name, "rows": counts[name],
                                      "side": f"{side}.{name}", "copied_back": False}
            if request.copy_back:
                record["how"] = collection_restore.copy_back(client, database, side, name, result.queries)
                record["copied_back"] = True
            result.objects.append(record)
    finally:
        client.close()

"""The backup module's engine: take backups of PostgreSQL and/or MongoDB into a repository, or list the catalog.

A PostgreSQL backup also reports the health of continuous archiving (pg_stat_archiver) and checks the WAL chain
from the oldest kept base backup to the newest archived segment, because an archive gap found only at restore time
makes every backup before it useless for point-in-time recovery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import capture as mongo_capture
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import dump as mongo_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.health import service_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.base_backup import (
    BaseBackupOptions,
    pg_basebackup_argv,
    take_base_backup,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.logical_dump import (
    LogicalDumpOptions,
    pg_dump_argv,
    take_logical_dump,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import DEFAULT_BIN_DIR
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import (
    ServerFacts,
    client_connection,
    server_facts,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.chain import (
    WalArchive,
    archiver_status,
    check_chain,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    parse_lsn,
    parse_segment_name,
    segment_number,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import BackupRecord, Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.retention import (
    apply_retention,
    plan_retention,
)

KINDS = ("base", "logical")


@dataclass(frozen=True)
class BackupRequest:
    repository: RepositoryOptions
    state: str = "present"  # present | list
    kind: str = "base"
    databases: DatabaseConnections = field(default_factory=DatabaseConnections)
    pgdata: str | None = None
    mongodb_consistency: str = "auto"
    compression: str = "zstd"
    compression_level: int | None = None
    workers: int = 0
    verify: bool = True
    staging_dir: str | None = None
    pg_bin_dir: str = DEFAULT_BIN_DIR
    keep: int | None = None
    check_wal_chain: bool = True
    archive_wait: float = 60.0
    # backup_info: where the change capture service is installed on this host, to say whether it runs.
    capture_install_root: str | None = None
    check_mode: bool = False
    progress_file: str | None = None  # where a MongoDB dump records its progress (progress_info reads it)


@dataclass
class BackupResult(JobReport):
    changed: bool = False
    backup_id: str | None = None
    backup_ids: list[str] = field(default_factory=list)
    size_bytes: int = 0
    duration_ms: int = 0
    start_lsn: str | None = None
    stop_lsn: str | None = None
    timeline: int | None = None
    oplog_start: dict[str, int] | None = None
    oplog_end: dict[str, int] | None = None
    backups: list[dict[str, Any]] = field(default_factory=list)
    catalog: dict[str, Any] | None = None
    wal_chain: dict[str, Any] | None = None
    archiver: dict[str, Any] | None = None
    mongodb_capture: dict[str, Any] | None = None
    retention: dict[str, Any] | None = None


def _check_cluster(catalog: Catalog, facts: ServerFacts, pgdata: str | None, check_mode: bool) -> None:
    """One repository serves one PostgreSQL cluster: their WAL segment names would collide otherwise."""
    if pgdata and facts.data_directory.rstrip("/") != pgdata.rstrip("/"):
        raise BackupError(f"postgres_dsn reaches the cluster in {facts.data_directory}, not pgdata {pgdata}")
    meta = catalog.get_meta("postgres")
    if meta is None:
        if not check_mode:
            catalog.put_meta("postgres", {"system_identifier": facts.system_identifier,
                                          "wal_segment_size": facts.wal_segment_size,
                                          "server_version_num": facts.server_version_num})
        return
    if str(meta.get("system_identifier")) != facts.system_identifier:
        raise BackupError(
            f"repository {catalog.repo.describe()} belongs to PostgreSQL cluster {meta.get('system_identifier')}, "
            f"not to {facts.system_identifier}: use one repository (or prefix) per cluster"
        )


WalHealth = tuple[dict[str, Any], "dict[str, Any] | None", list[str]]


def wal_health(repo: Repository, catalog: Catalog, conn=None) -> WalHealth:
    """(WAL chain report from the oldest base backup, pg_stat_archiver or None, warnings)."""
    warnings: list[str] = []
    bases = catalog.backups(engine="postgres", kind="base")
    seg = int(bases[0].details.get("wal_segment_size", 16 * 1024 * 1024)) if bases else 16 * 1024 * 1024
    archive = WalArchive.scan(repo, seg)
    start = segment_number(parse_lsn(bases[0].details["start_lsn"]), seg) if bases else None
    try:
        chain = check_chain(repo, archive, start).as_dict()
    except DbopsError as exc:  # e.g. a timeline whose history file is not archived yet
        chain = {"ok": False, "missing": [], "missing_count": 0, "error": exc.message}
    if bases:
        chain["from_backup"] = bases[0].backup_id
    if chain.get("error"):
        warnings.append(f"the WAL chain could not be checked: {chain['error']}")
    elif not chain["ok"]:
        warnings.append(f"WAL archive gap: {chain['missing_count']} segment(s) missing after base backup "
                        f"{bases[0].backup_id}, first {chain['missing'][:3]}; point-in-time recovery across "
                        "them is impossible")
    status = None
    if conn is not None:
        status = archiver_status(conn)
        if status["archive_mode"] == "off":
            warnings.append("archive_mode is off: base backups cannot be rolled forward; run the wal_archiving role")
        elif status["failing"]:
            warnings.append(f"WAL archiving is failing: {status['failed_count']} failures, last on "
                            f"{status['last_failed_wal']} at {status['last_failed_time']} (last success: "
                            f"{status['last_archived_wal']} at {status['last_archived_time']})")
        if not conn.execute("select pg_is_in_recovery()").fetchone()[0]:
            # "Up to now": how far the archive is behind the segment the server is writing.
            current = conn.execute("select pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
            chain["current_wal"] = current
            if chain.get("last"):
                behind = parse_segment_name(current, seg)[1] - parse_segment_name(chain["last"], seg)[1] - 1
                chain["segments_behind"] = max(behind, 0)
                if behind > 2 and status["archive_mode"] != "off":
                    warnings.append(f"the WAL archive ends at {chain['last']}, {behind} complete segment(s) behind "
                                    f"the server's current {current}")
    return chain, status, warnings


def _postgres_backup(request: BackupRequest, repo: Repository, catalog: Catalog, result: BackupResult) -> None:
    dsn = request.databases.require_postgres()
    with connect(dsn) as conn:
        facts = server_facts(conn)
        _check_cluster(catalog, facts, request.pgdata, request.check_mode)
        if request.kind == "base" and facts.archive_mode == "off":
            raise BackupError("archive_mode is off: a base backup counts only once its WAL is in the archive, and "
                              "this server archives none; run the wal_archiving role first")
        client = client_connection(dsn)
        if request.check_mode:
            if request.kind == "base":
                argv = pg_basebackup_argv(_base_options(request), client.conninfo, "<staging>", "dbops <id>")
            else:
                argv = pg_dump_argv(_logical_options(request), client.conninfo, "<staging>")
            result.queries.append(" ".join(argv))
            result.changed = True
            return
        if request.kind == "base":
            taken = take_base_backup(dsn, repo, facts, _base_options(request))
        else:
            taken = take_logical_dump(dsn, repo, facts, _logical_options(request))
        catalog.add_backup(taken.record)
        _record(result, taken.record, taken.commands)
        if request.kind == "base":
            result.start_lsn = taken.record.details["start_lsn"]
            result.stop_lsn = taken.record.details["stop_lsn"]
            result.timeline = taken.record.details["timeline"]
        if request.check_wal_chain:
            chain, status, warnings = wal_health(repo, catalog, conn)
            result.wal_chain, result.archiver = chain, status
            result.warnings.extend(warnings)


def _mongodb_backup(request: BackupRequest, repo: Repository, result: BackupResult) -> None:
    if not request.databases.mongodb_database:
        raise BackupError("mongodb_database is required with mongodb_uri")
    uri, database = request.databases.require_mongodb()
    if request.check_mode:
        plan = mongo_dump.plan_dump(uri, database, consistency=request.mongodb_consistency)
        result.queries.append(f"mongodump-layout dump of {database}: {plan}")
        result.changed = True
        return
    record = mongo_dump.take_dump(uri, repo, database,
                                  consistency=request.mongodb_consistency, work_dir=request.staging_dir,
                                  register=True, progress_file=request.progress_file)
    result.changed = True
    result.backup_ids.append(record.backup_id)
    result.backup_id = result.backup_id or record.backup_id
    result.size_bytes += record.size_bytes
    result.oplog_start, result.oplog_end = record.oplog_start, record.oplog_end
    result.backups.append({"backup_id": record.backup_id, "engine": "mongodb", "kind": "dump",
                           "size_bytes": record.size_bytes, "cluster_time": record.cluster_time,
                           "collections": record.collections, "counts": record.counts})
    result.warnings.extend(record.warnings)
    result.mongodb_capture = mongo_capture.capture_status(repo, database)


def _record(result: BackupResult, record: BackupRecord, commands: list[str]) -> None:
    result.changed = True
    result.backup_ids.append(record.backup_id)
    result.backup_id = result.backup_id or record.backup_id
    result.size_bytes += record.size_bytes
    result.queries.extend(commands)
    result.backups.append({"backup_id": record.backup_id, "engine": record.engine, "kind": record.kind,
                           "size_bytes": record.size_bytes, "started_at": record.started_at,
                           "finished_at": record.finished_at, **{k: record.details.get(k) for k in (
                               "start_lsn", "stop_lsn", "timeline", "database") if k in record.details}})


def _base_options(request: BackupRequest) -> BaseBackupOptions:
    return BaseBackupOptions(compression=request.compression, compression_level=request.compression_level,
                             workers=request.workers, verify=request.verify, staging_dir=request.staging_dir,
                             bin_dir=request.pg_bin_dir, archive_wait=request.archive_wait)


def _logical_options(request: BackupRequest) -> LogicalDumpOptions:
    return LogicalDumpOptions(jobs=request.workers, compression_level=request.compression_level,
                              staging_dir=request.staging_dir, bin_dir=request.pg_bin_dir)


def list_catalog(request: BackupRequest, repo: Repository) -> BackupResult:
    catalog = Catalog(repo)
    result = BackupResult(catalog=catalog.snapshot())
    conn = None
    try:
        if request.databases.postgres_dsn:
            conn = connect(request.databases.postgres_dsn)
        if conn is not None or catalog.backups(engine="postgres"):
            chain, status, warnings = wal_health(repo, catalog, conn)
            result.wal_chain, result.archiver = chain, status
            result.warnings.extend(warnings)
    finally:
        if conn is not None:
            conn.close()
    if request.databases.mongodb_database:
        result.mongodb_capture = service_health(repo, request.databases.mongodb_database,
                                                uri=request.databases.mongodb_uri,
                                                install_root=request.capture_install_root)
    if request.keep:
        result.retention = plan_retention(catalog, request.keep).as_dict()
    return result


def run_backup(request: BackupRequest) -> BackupResult:
    if request.kind not in KINDS:
        raise BackupError(f"unknown kind {request.kind!r}: use base or logical")
    repo = request.repository.open()
    if request.state == "list":
        return list_catalog(request, repo)
    if request.state != "present":
        raise BackupError(f"unknown state {request.state!r}: use present or list")
    if not request.databases.postgres_dsn and not request.databases.mongodb_uri:
        raise BackupError("nothing to back up: give postgres_dsn and/or mongodb_uri")
    clock = time.monotonic()
    catalog = Catalog(repo)
    result = BackupResult()
    try:
        if request.databases.postgres_dsn:
            _postgres_backup(request, repo, catalog, result)
        if request.databases.mongodb_uri:
            _mongodb_backup(request, repo, result)
    except BackupError:
        raise
    except DbopsError as exc:
        raise BackupError(str(exc)) from exc
    if request.keep:
        plan = plan_retention(catalog, request.keep)
        result.retention = plan.as_dict()
        if not plan.empty and not request.check_mode:
            apply_retention(catalog, plan)
    if not request.check_mode:
        catalog.write_snapshot()
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    return result

"""PostgreSQL logical dumps: pg_dump -Fd -j (parallel, one file per table) stored under pg/logical/<id>/<db>/.

A directory-format dump can be restored with pg_restore -j straight from a local repository, or after fetching
the prefix from S3; every file carries its sha256 like any other object.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import PgBinaries
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import (
    ServerFacts,
    client_connection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    BackupRecord,
    iso,
    new_backup_id,
    utc_now,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.store import (
    Repository,
    copy_tree_to_repository,
)

LOGICAL_PREFIX = "pg/logical/"


@dataclass(frozen=True)
class LogicalDumpOptions:
    jobs: int = 0  # 0 = this host's CPU count
    compression_level: int | None = None
    staging_dir: str | None = None
    bin_dir: str = "/usr/lib/postgresql/15/bin"


@dataclass
class LogicalDumpResult:
    record: BackupRecord
    commands: list[str] = field(default_factory=list)
    duration_ms: int = 0


def pg_dump_argv(options: LogicalDumpOptions, conninfo: str, target: str) -> list[str]:
    argv = [PgBinaries(options.bin_dir).path("pg_dump"), "-d", conninfo, "-F", "d", "-j",
            str(options.jobs or os.cpu_count() or 1), "-f", target]
    if options.compression_level is not None:
        argv += ["-Z", str(options.compression_level)]
    return argv


def take_logical_dump(dsn: str, repo: Repository, facts: ServerFacts, options: LogicalDumpOptions,
                      backup_id: str | None = None) -> LogicalDumpResult:
    started = utc_now()
    clock = time.monotonic()
    backup_id = backup_id or new_backup_id("postgres", "logical", started)
    client = client_connection(dsn)
    database = client.database() or "postgres"
    staging_root = Path(tempfile.mkdtemp(prefix=f"dbops-{backup_id}-", dir=options.staging_dir))
    try:
        target = staging_root / database
        argv = pg_dump_argv(options, client.conninfo, str(target))
        try:
            ClusterOwner(None).run(argv, env=client.env(), what="pg_dump")
        except DbopsError as exc:
            raise BackupError(f"logical dump {backup_id} of database {database} failed: {exc.message}") from exc
        stored = copy_tree_to_repository(repo, target, f"{LOGICAL_PREFIX}{backup_id}/{database}")
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    objects = [{"key": info.key, "size": info.size, "sha256": info.sha256} for info in stored]
    record = BackupRecord(
        backup_id=backup_id, engine="postgres", kind="logical", started_at=iso(started),
        finished_at=iso(utc_now()), size_bytes=sum(item["size"] for item in objects), objects=objects,
        details={"database": database, "format": "directory", "system_identifier": facts.system_identifier,
                 "server_version_num": facts.server_version_num,
                 "restore_hint": f"pg_restore -j 4 -d <dsn> <repository>/{LOGICAL_PREFIX}{backup_id}/{database}"},
    )
    return LogicalDumpResult(record=record, commands=[" ".join(argv)],
                             duration_ms=int((time.monotonic() - clock) * 1000))

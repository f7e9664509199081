"""PostgreSQL logical dumps: pg_dump -Fd -j (parallel, one file per table) stored under pg/logical/<id>/<db>/.

A directory-format dump can be restored with pg_restore -j straight from a local repository, or after fetching
the prefix from S3; every file carries its sha256 like any other object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.backup_run import (
    TakenBackup,
    backup_run,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import (
    DEFAULT_BIN_DIR,
    PgBinaries,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import ServerFacts, client_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

LOGICAL_PREFIX = "pg/logical/"


@dataclass(frozen=True)
class LogicalDumpOptions:
    jobs: int = 0  # 0 = this host's CPU count
    compression_level: int | None = None
    staging_dir: str | None = None
    bin_dir: str = DEFAULT_BIN_DIR


def pg_dump_argv(options: LogicalDumpOptions, conninfo: str, target: str) -> list[str]:
    argv = [PgBinaries(options.bin_dir).path("pg_dump"), "-d", conninfo, "-F", "d", "-j",
            str(options.jobs or os.cpu_count() or 1), "-f", target]
    if options.compression_level is not None:
        argv += ["-Z", str(options.compression_level)]
    return argv


def take_logical_dump(dsn: str, repo: Repository, facts: ServerFacts, options: LogicalDumpOptions,
                      backup_id: str | None = None) -> TakenBackup:
    client = client_connection(dsn)
    database = client.database() or "postgres"
    with backup_run("logical", backup_id, options.staging_dir) as run:
        target = run.staging / database
        argv = pg_dump_argv(options, client.conninfo, str(target))
        run.run_program(argv, client.env(), f"logical dump {run.backup_id} of database {database} failed")
        stored = repo.put_tree(target, f"{LOGICAL_PREFIX}{run.backup_id}/{database}")
        return run.finish(stored, {
            "database": database, "format": "directory", "system_identifier": facts.system_identifier,
            "server_version_num": facts.server_version_num,
            "restore_hint": f"pg_restore -j 4 -d <dsn> <repository>/{LOGICAL_PREFIX}{run.backup_id}/{database}",
        })

"""sevenp.dbops through its engine API, as the backup, recovery_point and restore modules call it.

Archiving uses the collection's own WAL archiver (an entry point with the engine files beside it, run by the host's
python3 as the cluster's OS user), installed by the wal_archiving module's engine. The backup is run_backup() with
the module's defaults (zstd on the server, every file checked against the manifest as pg_basebackup streams it, WAL
archived before it counts, WAL chain check); the restore is the restore module's PostgreSQL engine, timed until
promotion.
"""

from __future__ import annotations

from pathlib import Path

from bench.backup_restore.phase_timer import PhaseTimes, timing
from bench.support.repo_paths import ROOT
from tests.support.pg_cluster import PG_BIN_DIR, PG_OS_USER, PgCluster, chown_to_pg_user

SYSTEM_PYTHON = "/usr/bin/python3"


class Dbops:
    name = "sevenp.dbops"

    def __init__(self, work_dir: Path, source: PgCluster) -> None:
        self.base = work_dir / "dbops"
        self.repo = self.base / "repo"
        self.archiver_dir = self.base / "archiver"
        self.config = self.archiver_dir / "archiver.json"
        self.source = source
        self.notes: list[str] = []
        self.phases: dict[str, list[tuple[str, int, float]]] = {}

    def version(self) -> str:
        for line in (ROOT / "galaxy.yml").read_text().splitlines():
            if line.startswith("version:"):
                return "sevenp.dbops " + line.split(":", 1)[1].strip()
        return "sevenp.dbops"

    def _repository(self):
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import (
            RepositoryOptions,
        )

        return RepositoryOptions(url=str(self.repo), local_owner=PG_OS_USER)

    def _install(self):
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import (
            ArchiverInstall,
        )

        return ArchiverInstall(directory=str(self.archiver_dir), python=SYSTEM_PYTHON, config_path=str(self.config),
                               config={"repository": str(self.repo), "push_retry_seconds": 30,
                                       "fetch_retry_seconds": 600}, os_user=PG_OS_USER)

    def prepare(self) -> None:
        """The archiver installed by the wal_archiving module's engine, as the role installs it."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import (
            check_reachable,
            install,
        )

        self.base.mkdir(parents=True)
        chown_to_pg_user(self.base)
        install(self._install())
        check_reachable(self._install())

    def _archiver(self, *args: str) -> str:
        return " ".join([self._install().command_prefix(), *args])

    def archive_command(self) -> str:
        return self._archiver("push", '"$1"', '"$2"')

    def after_start(self) -> None:
        pass

    def backup(self) -> None:
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import (
            BackupRequest,
            run_backup,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
            DatabaseConnections,
        )

        with timing(PhaseTimes()) as times:
            result = run_backup(BackupRequest(repository=self._repository(), kind="base",
                                              databases=DatabaseConnections(postgres_dsn=self.source.dsn()),
                                              pgdata=str(self.source.datadir),
                                              pg_bin_dir=str(PG_BIN_DIR)))
        self.phases["backup"] = times.rows()
        if result.wal_chain and not result.wal_chain.get("ok", True):
            self.notes.append(f"WAL chain after the backup: {result.wal_chain}")

    def backup_unverified(self) -> None:
        """The same backup with verify=False: what checking the files against the manifest costs (restores verify again
        anyway)."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import (
            BackupRequest,
            run_backup,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
            DatabaseConnections,
        )

        with timing(PhaseTimes()) as times:
            run_backup(BackupRequest(repository=self._repository(), kind="base",
                                     databases=DatabaseConnections(postgres_dsn=self.source.dsn()),
                                     pgdata=str(self.source.datadir), pg_bin_dir=str(PG_BIN_DIR), verify=False))
        self.phases["backup, verify=false"] = times.rows()

    def archived_segments(self) -> list[str]:
        return sorted(p.name for p in (self.repo / "pg" / "wal").iterdir()
                      if len(p.name) == 24 and not p.name.endswith(".dbops-sha256"))

    def fetch_command(self, segment: str, destination: str) -> list[str]:
        """restore_command for one segment, as PostgreSQL runs it (as the cluster's OS user)."""
        install = self._install()
        return [install.python, install.script, "--config", install.config_file, "fetch", segment, destination]

    def repository_bytes(self) -> int:
        """Size of the newest base backup in the repository."""
        backups = sorted(p for p in (self.repo / "pg" / "base").iterdir() if p.is_dir())
        if not backups:
            return 0
        return sum(path.stat().st_size for path in backups[-1].rglob("*")
                   if path.is_file() and not path.name.endswith(".dbops-sha256"))

    def create_point(self, name: str) -> tuple[str, str]:
        """The recovery_point module's engine; returns (LSN, the unique restore point name written to WAL)."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
            DatabaseConnections,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
            RecoveryPointRequest,
            create_recovery_point,
        )

        result = create_recovery_point(RecoveryPointRequest(
            name=name, repository=self._repository(), databases=DatabaseConnections(postgres_dsn=self.source.dsn())))
        return str(result.lsn), str(result.internal_name)

    def restore(self, target: PgCluster, point_name: str) -> float | None:
        """The restore module's PostgreSQL engine, into a new data directory; returns when the server is promoted.

        flush_before and verify_archiving are off: the source is already stopped (nothing left to flush), and the
        benchmark's restored clusters must not archive into the repository the other contender reads.
        """
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import (
            PgTargetSpec,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
            PgRestoreRequest,
            restore_postgres,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import (
            ClusterOnHost,
        )

        with timing(PhaseTimes()) as times:
            result = restore_postgres(PgRestoreRequest(
                repo=self._repository().open(), postgres_dsn=target.dsn(), target=PgTargetSpec(name=point_name),
                cluster=ClusterOnHost(pgdata=str(target.datadir), bin_dir=str(PG_BIN_DIR), os_user=PG_OS_USER,
                                      log_file=str(target.logfile)),
                restore_command=self._archiver("fetch", "%f", "%p"), flush_before=False, verify_archiving=False,
            ))
        self.phases["restore"] = times.rows()
        if not any(note.startswith("restore steps") for note in self.notes):
            self.notes.append(f"restore steps: {'; '.join(result.steps)}")
        started = {row[0]: row[2] for row in times.rows()}
        return started.get("start -> promoted (WAL replay)") and (
            sum(row[2] for row in times.rows() if row[0] in (
                "plan (target, backup, WAL chain)", "fetch backup objects to staging", "extract + pg_verifybackup",
                "recovery settings", "stop + swap data directories")))

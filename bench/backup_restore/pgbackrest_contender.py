"""pgBackRest as the reference: local repository, compress-type=zst, process-max=2, run as the cluster's OS user."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.backup_restore.promotion import start_without_waiting
from tests.support.pg_cluster import PgCluster, as_pg_user, chown_to_pg_user

STANZA = "bench"


class PgBackRest:
    name = "pgBackRest"

    def __init__(self, work_dir: Path, source: PgCluster) -> None:
        self.base = work_dir / "pgbackrest"
        self.config = self.base / "pgbackrest.conf"
        self.repo = self.base / "repo"
        self.source = source

    def version(self) -> str:
        return subprocess.run(["pgbackrest", "version"], check=True, capture_output=True, text=True).stdout.strip()

    def prepare(self) -> None:
        for path in (self.base, self.repo, self.base / "log", self.base / "lock", self.base / "spool"):
            path.mkdir(parents=True, exist_ok=True)
            chown_to_pg_user(path)
        self.config.write_text("\n".join([
            "[global]",
            f"repo1-path={self.repo}",
            "repo1-retention-full=2",
            "compress-type=zst",
            "process-max=2",
            "start-fast=y",
            f"log-path={self.base / 'log'}",
            f"lock-path={self.base / 'lock'}",
            f"spool-path={self.base / 'spool'}",
            "log-level-console=warn",
            "log-level-file=info",
            "",
            f"[{STANZA}]",
            f"pg1-path={self.source.datadir}",
            f"pg1-port={self.source.port}",
            f"pg1-socket-path={self.source.socket_dir}",
            "pg1-user=postgres",
            "",
        ]))
        chown_to_pg_user(self.config)

    def archive_command(self) -> str:
        return f"pgbackrest --config={self.config} --stanza={STANZA} archive-push \"$1\""

    def _run(self, *args: str) -> None:
        argv = as_pg_user(["pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args])
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pgbackrest {' '.join(args)} failed (exit {done.returncode}): "
                               f"{done.stdout}{done.stderr}")

    def after_start(self) -> None:
        """stanza-create needs the running, archiving source."""
        self._run("stanza-create")

    def backup(self) -> None:
        self._run("--type=full", "backup")

    def fetch_command(self, segment: str, destination: str) -> list[str]:
        """restore_command for one segment, as pgBackRest's restore writes it (archive-get)."""
        return ["pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", f"--pg1-path={self.source.datadir}",
                "archive-get", segment, destination]

    def repository_bytes(self) -> int:
        """Size of the newest backup set in the repository."""
        sets = sorted((p for p in (self.repo / "backup" / STANZA).iterdir() if p.is_dir() and p.name[0].isdigit()),
                      key=lambda p: p.name)
        if not sets:
            return 0
        return sum(path.stat().st_size for path in sets[-1].rglob("*") if path.is_file())

    def restore(self, target: PgCluster, point_name: str) -> float:
        """Lay down the files and recovery settings, then start: the caller waits for the promotion.

        Returns the seconds spent before the start (the files), out of the whole restore time.
        """
        t0 = time.monotonic()
        target.datadir.mkdir(mode=0o700, parents=True)
        chown_to_pg_user(target.base_dir)
        chown_to_pg_user(target.datadir)
        self._run(f"--pg1-path={target.datadir}", "--type=name", f"--target={point_name}",
                  "--target-action=promote", "--archive-mode=off", "restore")
        files_s = time.monotonic() - t0
        start_without_waiting(target)
        return files_s

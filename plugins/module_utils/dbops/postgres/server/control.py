"""Stopping, starting and watching a PostgreSQL server through pg_ctl, as the cluster's OS user."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.processes import process_alive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import (
    DEFAULT_BIN_DIR,
    PgBinaries,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner


@dataclass(frozen=True)
class ServerControl:
    pgdata: str
    owner: ClusterOwner
    binaries: PgBinaries

    def postmaster_pid(self) -> int | None:
        try:
            return int((Path(self.pgdata) / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def current_log_file(self) -> str | None:
        """The file the running postmaster writes its stderr to (pg_ctl -l), so a restart can keep logging there."""
        pid = self.postmaster_pid()
        if pid is None:
            return None
        try:
            target = os.readlink(f"/proc/{pid}/fd/2")
        except OSError:
            return None
        return target if target.startswith("/") and Path(target).is_file() else None

    def default_log_file(self, purpose: str) -> str:
        """A log file beside the data directory, owned by the cluster's OS user."""
        data = Path(self.pgdata)
        path = data.with_name(f"{data.name}.dbops-{purpose}.log")
        if not path.exists():
            path.touch(mode=0o640)
            self.owner.chown_tree(path)
        return str(path)

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        if not process_alive(pid):
            return False
        # A stale postmaster.pid whose pid was reused would fool kill(0): ask pg_ctl as the final word.
        result = self.owner.run([self.binaries.path("pg_ctl"), "-D", self.pgdata, "status"], check=False)
        return result.returncode == 0

    def stop(self, mode: str = "fast", timeout: int = 300) -> bool:
        """Stop the server; True when it was running."""
        if not self.is_running():
            return False
        self.owner.run([self.binaries.path("pg_ctl"), "-D", self.pgdata, "-m", mode, "-w", "-t", str(timeout),
                        "stop"], what="pg_ctl stop", timeout=timeout + 30)
        return True

    def start(self, log_file: str, timeout: int = 300, wait: bool = True) -> None:
        argv = [self.binaries.path("pg_ctl"), "-D", self.pgdata, "-l", log_file]
        argv += ["-w", "-t", str(timeout)] if wait else ["-W"]
        self.owner.run([*argv, "start"], what="pg_ctl start", timeout=timeout + 30)

    def restart(self, log_file: str, timeout: int = 300) -> None:
        self.stop(timeout=timeout)
        self.start(log_file, timeout=timeout)

    def wait_stopped(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            time.sleep(0.2)
        return False


@dataclass(frozen=True)
class ClusterOnHost:
    """Where a cluster lives on this host and how its programs run: what a restart or a restore needs."""

    pgdata: str
    bin_dir: str = DEFAULT_BIN_DIR
    os_user: str | None = None
    log_file: str | None = None  # None: keep the file the server logs to now, or one beside the data directory

    def control(self, pgdata: str | None = None) -> ServerControl:
        return ServerControl(pgdata or self.pgdata, ClusterOwner(self.os_user), PgBinaries(self.bin_dir))

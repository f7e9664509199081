"""Install the collection's WAL archiver with the same engine code the wal_archiving module uses, for tests.

The archiver runs as the cluster's OS user with the host's /usr/bin/python3 (the venv is under /root, which that
user cannot enter), so it goes to a directory that user can read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import (
    ArchiverInstall,
    install,
)

from .pg_cluster import PG_OS_USER, as_pg_user, chown_to_pg_user

SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class InstalledArchiver:
    base: Path

    def spec(self, name: str = "archiver", config: dict | None = None) -> ArchiverInstall:
        """The installation for name; its configuration (which decides the archive_command) as last written."""
        if config is None and self.config_path(name).exists():
            config = json.loads(self.config_path(name).read_text())
        return ArchiverInstall(directory=str(self.base), python=SYSTEM_PYTHON,
                               config_path=str(self.config_path(name)), config=config or {}, os_user=PG_OS_USER)

    @property
    def script(self) -> Path:
        return Path(self.spec().script)

    def config_path(self, name: str = "archiver") -> Path:
        return self.base / "conf" / f"{name}.json"

    def write_config(self, config: dict, name: str = "archiver") -> Path:
        install(self.spec(name, config))
        return self.config_path(name)

    def archive_command(self, name: str = "archiver") -> str:
        return self.spec(name).archive_command()

    def restore_command(self, name: str = "archiver") -> str:
        return self.spec(name).restore_command()

    def spool_dir(self, name: str = "archiver") -> Path:
        return self.base / "spool" / name

    def with_uploader(self, config: dict, name: str = "archiver") -> dict:
        """config, archiving through the uploader of this archiver's spool for name."""
        return {**config, "spool_dir": str(self.spool_dir(name))}

    def uploader_pid_file(self, name: str = "archiver") -> Path:
        return self.base / "run" / f"{name}.pid"

    def uploader_log(self, name: str = "archiver") -> Path:
        return self.base / "run" / f"{name}.log"

    def _supervise(self, action: str, name: str, *command: str) -> str:
        run_dir = self.base / "run"
        run_dir.mkdir(exist_ok=True)
        chown_to_pg_user(run_dir)
        argv = [SYSTEM_PYTHON, self.spec(name).supervisor_script, action, "--pid-file",
                str(self.uploader_pid_file(name)), "--log-file", str(self.uploader_log(name))]
        done = subprocess.run(as_pg_user([*argv, *(["--", *command] if command else [])]), capture_output=True,
                              text=True, check=False, timeout=120)
        if done.returncode not in (0, 3):
            raise RuntimeError(f"dbops-supervise {action} failed: {done.stdout}{done.stderr}")
        return done.stdout.strip()

    def start_uploader(self, name: str = "archiver") -> str:
        """The uploader of name's spool under the pid-file supervisor, as the cluster's OS user (what the role
        starts where no systemd runs)."""
        return self._supervise("start", name, *self.spec(name).upload_command())

    def stop_uploader(self, name: str = "archiver") -> str:
        return self._supervise("stop", name)

    def uploader_pid(self, name: str = "archiver", timeout: float = 30.0, not_one_of: tuple[int, ...] = ()) -> int:
        """The running uploader's pid: the supervisor's child (waits for a restart in progress: one not in
        not_one_of, the ones killed, which stay the supervisor's children until it has reaped them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            supervisor = self.uploader_pid_file(name).read_text().strip()
            children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
            pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
            pids = [pid for pid in pids if pid not in not_one_of]
            if pids:
                return pids[0]
            time.sleep(0.05)
        raise RuntimeError(f"no uploader running under supervisor {self.uploader_pid_file(name)}")

    def destroy(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def install_archiver() -> InstalledArchiver:
    base = Path(tempfile.mkdtemp(prefix="dbops-archiver-"))
    os.chmod(base, 0o755)
    return InstalledArchiver(base)


def new_local_repository_dir() -> Path:
    """A repository directory the cluster's OS user can write into."""
    path = Path(tempfile.mkdtemp(prefix="dbops-repo-"))
    os.chmod(path, 0o750)
    chown_to_pg_user(path)
    return path


def stop_role_uploaders(archiver_dir: Path) -> None:
    """Stop the WAL uploaders the wal_archiving role left running under its pid-file supervisor."""
    for pid_file in archiver_dir.glob("spool/*/uploader.pid"):
        subprocess.run(["/usr/bin/python3", str(archiver_dir / "bin" / "dbops-supervise"), "stop", "--pid-file",
                        str(pid_file)], capture_output=True, check=False, timeout=120)

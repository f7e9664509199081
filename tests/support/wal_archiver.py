"""Install the collection's WAL archiver with the same engine code the wal_archiving module uses, for tests.

The archiver runs as the cluster's OS user with the host's /usr/bin/python3 (the venv is under /root, which that
user cannot enter), so it goes to a directory that user can read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import (
    ArchiverInstall,
    install,
)

from .pg_cluster import PG_OS_USER, chown_to_pg_user

SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class InstalledArchiver:
    base: Path

    def spec(self, name: str = "archiver", config: dict | None = None) -> ArchiverInstall:
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

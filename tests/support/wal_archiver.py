"""Install the collection's WAL archiver the way the wal_archiving role does, for engine-level tests.

The archiver runs as the cluster's OS user with the host's /usr/bin/python3 (the venv is under /root, which that
user cannot enter), so the files go to a directory that user can read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .pg_cluster import PG_OS_USER, chown_to_pg_user

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "wal_archiving"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class InstalledArchiver:
    base: Path

    @property
    def script(self) -> Path:
        return self.base / "bin" / "dbops-wal-archive"

    def config_path(self, name: str = "archiver") -> Path:
        return self.base / "conf" / f"{name}.json"

    def write_config(self, config: dict, name: str = "archiver") -> Path:
        path = self.config_path(name)
        path.parent.mkdir(exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_text(json.dumps(config))
        os.chmod(path, 0o600)
        chown_to_pg_user(path)
        return path

    def archive_command(self, name: str = "archiver") -> str:
        return f"{SYSTEM_PYTHON} {self.script} --config {self.config_path(name)} push %p %f"

    def restore_command(self, name: str = "archiver") -> str:
        return f"{SYSTEM_PYTHON} {self.script} --config {self.config_path(name)} fetch %f %p"

    def destroy(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def install_archiver() -> InstalledArchiver:
    base = Path(tempfile.mkdtemp(prefix="dbops-archiver-"))
    os.chmod(base, 0o755)
    variables = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    lib = base / "lib" / "ansible_collections" / "sevenp" / "dbops" / "plugins" / "module_utils"
    for relative in variables["wal_archiving_engine_files"]:
        target = lib / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "plugins" / "module_utils" / relative, target)
    (base / "bin").mkdir()
    shutil.copy2(ROLE / "files" / "dbops-wal-archive", base / "bin" / "dbops-wal-archive")
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o755 if name == "dbops-wal-archive" else 0o644)
    return InstalledArchiver(base)


def new_local_repository_dir() -> Path:
    """A repository directory the cluster's OS user can write into."""
    path = Path(tempfile.mkdtemp(prefix="dbops-repo-"))
    os.chmod(path, 0o750)
    chown_to_pg_user(path)
    return path


__all__ = ["InstalledArchiver", "install_archiver", "new_local_repository_dir", "PG_OS_USER"]

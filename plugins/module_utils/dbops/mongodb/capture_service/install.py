"""The files of one change capture service, installed with supervision/installed_engine.py:

    <dir>/bin/dbops-change-capture      the service (capture_service/service_main.py)
    <dir>/bin/dbops-supervise           the pid-file supervisor, for hosts without systemd
    <dir>/lib/...                       the engine files the capture imports
    <dir>/conf/capture.json             URI, database, repository and S3 keys (0600, owned by the service's user)
    <dir>/run/capture.pid, status.json  the supervisor's pid file (lock) and the last run's outcome
    <dir>/log/capture.log               the supervisor's log (under systemd: the journal)

Nothing of it is shared with another cluster, database or checkout (naming.py), and removing <dir> leaves the
archived changes in the repository alone.
"""

from __future__ import annotations

import json
import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import capture
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service import service_main
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository import factory
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.installed_engine import (
    SUPERVISOR_SCRIPT,
    EngineInstall,
    InstalledScript,
    InstallResult,
    ensure_dir,
    install_engine,
)

SERVICE_SCRIPT = "dbops-change-capture"
SERVICE = InstalledScript(
    SERVICE_SCRIPT, "mongodb.capture_service.service_main",
    "# sevenp.dbops MongoDB change capture, installed by the sevenp.dbops collection (wal_archiving role):\n"
    "# archives one database's changes into the repository for point-in-time recovery.")


class CaptureServiceError(DbopsError):
    """The change capture service could not be installed, started, stopped or removed."""


@dataclass(frozen=True)
class CaptureServiceSpec:
    directory: str
    name: str  # the systemd unit's name (without .service); also names the service in messages
    python: str  # needs pymongo (and boto3 for S3); the service runs it as os_user
    config: dict[str, Any] = field(default_factory=dict)
    os_user: str | None = None  # None: the user that installs it

    @property
    def config_file(self) -> str:
        return str(Path(self.directory) / "conf" / "capture.json")

    @property
    def pid_file(self) -> str:
        return str(Path(self.directory) / "run" / "capture.pid")

    @property
    def status_file(self) -> str:
        return str(Path(self.directory) / "run" / "status.json")

    @property
    def log_file(self) -> str:
        return str(Path(self.directory) / "log" / "capture.log")

    @property
    def database(self) -> str:
        return str(self.config.get("database") or "")

    def engine(self) -> EngineInstall:
        content = json.dumps({**{k: v for k, v in self.config.items() if v not in (None, "")},
                              "status_file": self.status_file}, indent=2, sort_keys=True).encode() + b"\n"
        return EngineInstall(
            directory=self.directory, roots=(service_main, capture, factory), scripts=(SERVICE,), python=self.python,
            extra_files=(("conf/capture.json", content, 0o600),), owner_ids=self.owner_ids())

    def command(self) -> list[str]:
        """What systemd or the supervisor runs."""
        return [self.python, str(Path(self.directory) / "bin" / SERVICE_SCRIPT), "--config", self.config_file]

    def supervisor_command(self, *args: str) -> list[str]:
        return [self.python, str(Path(self.directory) / "bin" / SUPERVISOR_SCRIPT), *args]

    def owner_ids(self) -> tuple[int, int] | None:
        """uid and gid for the files the service writes, when root installs it for another user."""
        if not self.os_user or os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(self.os_user)
        except KeyError as exc:
            raise CaptureServiceError(f"the change capture's OS user {self.os_user!r} does not exist") from exc
        return entry.pw_uid, entry.pw_gid

    def switches_user(self) -> bool:
        return bool(self.os_user) and os.geteuid() == 0 and pwd.getpwuid(0).pw_name != self.os_user


def install(spec: CaptureServiceSpec, *, check_mode: bool = False) -> InstallResult:
    """Install or update the service's files; run/ and log/ belong to the service's user (it writes there)."""
    if not spec.config.get("mongodb_uri") or not spec.database or not spec.config.get("repository"):
        raise CaptureServiceError("the change capture needs mongodb_uri, mongodb_database and repository")
    result = install_engine(spec.engine(), check_mode=check_mode)
    owner = spec.owner_ids()
    for directory in (Path(spec.pid_file).parent, Path(spec.log_file).parent):
        ensure_dir(directory, 0o750, result, check_mode)
        if owner is not None and not check_mode:
            stat = directory.stat()
            if (stat.st_uid, stat.st_gid) != owner:
                os.chown(directory, *owner)
                result.changed = True
    return result

"""Installing the WAL archiver on the database host: an entry point, the engine files it imports, its configuration.

PostgreSQL runs archive_command / restore_command as the cluster's OS user, with whatever Python the command names.
A virtualenv under a private home directory (root's) is out of that user's reach, so the archiver runs on the
host's python3 (3.11+, with python3-boto3 for S3) from a directory of its own:

    <dir>/bin/dbops-wal-archive                    entry point (adds <dir>/lib to sys.path)
    <dir>/bin/dbops-wal-push                       archive_command with an uploader (spool_dir): the hand-off
    <dir>/bin/dbops-wal-fetch                      restore_command with an uploader: prefetched segments renamed
    <dir>/bin/dbops-supervise                      the pid-file supervisor that keeps the uploader running
    <dir>/lib/ansible_collections/.../dbops/...    the few engine files it needs, copied from this collection
    <dir>/conf/<name>.json                         repository and credentials, 0600, owned by the cluster's OS user

The engine files are copied from the very modules imported here (inspect.getsource works from a module's zip
payload as well as from a checkout), so the archiver always matches the collection that installed it. Every file is
rewritten only when its content differs, atomically, so reruns report no change.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archive_handoff, archive_uploader
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archiver as wal_archive_module
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision import process_supervisor
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.installed_engine import (
    LIB_ROOT,
    InstallResult,
    engine_files,
    ensure_dir,
    entry_point,
    module_source,
    write_if_different,
)

# The archiver imports the hand-off and the uploader inside functions (they import it): named as roots as well.
ENGINE_FILES = engine_files((wal_archive_module, archive_handoff, archive_uploader, process_supervisor))


ENTRY_POINT = entry_point(
    "# sevenp.dbops WAL archiver, installed by the sevenp.dbops collection (wal_archiving).\n"
    "#   archive_command = '<python3> <this file> --config <config.json> push %p %f'\n"
    "#   restore_command = '<python3> <this file> --config <config.json> fetch %f %p'",
    "postgres.wal.archiver")
PUSH_ENTRY_POINT = entry_point(
    "# sevenp.dbops WAL hand-off to the uploader, installed by the sevenp.dbops collection (wal_archiving).\n"
    "#   archive_command = '<python3> -S <this file> --spool <dir> --wait <s> --grace <s> --config <config.json> "
    "%p %f'\n"
    "# Run with -S and importing only os, fcntl and the spool: PostgreSQL starts it once per segment.",
    "postgres.wal.archive_handoff")
FETCH_ENTRY_POINT = entry_point(
    "# sevenp.dbops WAL restore fast path, installed by the sevenp.dbops collection (wal_archiving).\n"
    "#   restore_command = '<python3> -S <this file> --prefetch <n> --config <config.json> %f %p'\n"
    "# Run with -S and importing only os and sys: a prefetched segment is renamed, anything else goes to the "
    "archiver.",
    "postgres.wal.prefetched_fetch")
SUPERVISOR_ENTRY_POINT = entry_point(
    "# sevenp.dbops pid-file supervisor, installed by the sevenp.dbops collection (wal_archiving): keeps the WAL\n"
    "# uploader running where no systemd does.",
    "supervision.process_supervisor")


class ArchiverInstallError(DbopsError):
    """The archiver could not be installed or cannot reach the repository."""


@dataclass(frozen=True)
class ArchiverInstall:
    directory: str
    python: str = "/usr/bin/python3"
    config_path: str | None = None  # default <directory>/conf/archiver.json
    config: dict[str, Any] = field(default_factory=dict)
    os_user: str | None = None

    @property
    def script(self) -> str:
        return str(Path(self.directory) / "bin" / "dbops-wal-archive")

    @property
    def push_script(self) -> str:
        return str(Path(self.directory) / "bin" / "dbops-wal-push")

    @property
    def fetch_script(self) -> str:
        return str(Path(self.directory) / "bin" / "dbops-wal-fetch")

    @property
    def supervisor_script(self) -> str:
        return str(Path(self.directory) / "bin" / "dbops-supervise")

    @property
    def spool_dir(self) -> str | None:
        return self.config.get("spool_dir") or None

    def upload_command(self) -> list[str]:
        """The long-lived uploader (with spool_dir), as its supervisor or systemd unit runs it."""
        return [self.python, self.script, "--config", self.config_file, "upload"]

    @property
    def config_file(self) -> str:
        return self.config_path or str(Path(self.directory) / "conf" / "archiver.json")

    def command_prefix(self) -> str:
        return " ".join(shlex.quote(part) for part in (self.python, self.script, "--config", self.config_file))

    def archive_command(self) -> str:
        if not self.spool_dir:
            return f"{self.command_prefix()} push %p %f"
        parts = [self.python, "-S", self.push_script, "--spool", self.spool_dir,
                 "--wait", str(self.config.get("push_wait_seconds") or 60),
                 "--grace", str(self.config.get("uploader_grace_seconds") or 10), "--config", self.config_file]
        return " ".join(shlex.quote(part) for part in parts) + " %p %f"

    def restore_command(self) -> str:
        if not self.spool_dir:
            return f"{self.command_prefix()} fetch %f %p"
        # Set up with the uploader, restores take the fast path too (the same fetch when nothing is prefetched).
        parts = [self.python, "-S", self.fetch_script, "--prefetch", str(self.config.get("fetch_prefetch", 8)),
                 "--config", self.config_file]
        return " ".join(shlex.quote(part) for part in parts) + " %f %p"


def install(spec: ArchiverInstall, *, check_mode: bool = False) -> InstallResult:
    """Install or update the archiver; the cluster's OS user must be able to read it (directories 0755)."""
    result = InstallResult()
    base = Path(spec.directory)
    if not base.is_absolute():
        raise ArchiverInstallError(f"archiver directory {spec.directory!r} must be an absolute path")
    owner = ClusterOwner(spec.os_user)
    owner_ids = owner.ids() if os.geteuid() == 0 else None
    try:
        lib = base / LIB_ROOT
        chain, probe = [], lib
        while probe != base:
            chain.append(probe)
            probe = probe.parent
        for directory in [base, base / "bin", Path(spec.config_file).parent, *reversed(chain), lib / "storage",
                          lib / "postgres"]:
            ensure_dir(directory, 0o755, result, check_mode)
        for relative, module in ENGINE_FILES:
            write_if_different(base / LIB_ROOT / relative, module_source(module).encode(), 0o644, None, result,
                               check_mode)
        write_if_different(Path(spec.script), ENTRY_POINT.encode(), 0o755, None, result, check_mode)
        write_if_different(Path(spec.push_script), PUSH_ENTRY_POINT.encode(), 0o755, None, result, check_mode)
        write_if_different(Path(spec.fetch_script), FETCH_ENTRY_POINT.encode(), 0o755, None, result, check_mode)
        write_if_different(Path(spec.supervisor_script), SUPERVISOR_ENTRY_POINT.encode(), 0o755, None, result,
                           check_mode)
        if spec.spool_dir and not Path(spec.spool_dir).is_dir():
            # Written by archive_command and the uploader, both the cluster's OS user.
            result.changed = True
            result.written.append(spec.spool_dir + "/")
            if not check_mode:
                Path(spec.spool_dir).mkdir(parents=True, mode=0o700)
                if owner_ids is not None:
                    os.chown(spec.spool_dir, *owner_ids)
        repository = str(spec.config.get("repository") or "")
        if repository.startswith("/") and not Path(repository).exists():
            # A new local repository: the archiver (the cluster's OS user) writes into it.
            result.changed = True
            result.written.append(repository + "/")
            if not check_mode:
                Path(repository).mkdir(parents=True, mode=0o750)
                if owner_ids is not None:
                    os.chown(repository, *owner_ids)
        config = json.dumps({key: value for key, value in spec.config.items() if value not in (None, "")},
                            indent=2, sort_keys=True).encode() + b"\n"
        write_if_different(Path(spec.config_file), config, 0o600, owner_ids, result, check_mode)
    except OSError as exc:
        raise ArchiverInstallError(f"cannot install the WAL archiver in {spec.directory}: {exc}") from exc
    return result


def check_reachable(spec: ArchiverInstall) -> None:
    """Run the installed archiver's 'check' as the cluster's OS user: it must write, read and delete a probe."""
    owner = ClusterOwner(spec.os_user)
    try:
        owner.run([spec.python, spec.script, "--config", spec.config_file, "check"], timeout=120,
                  what="the WAL archiver's repository check")
    except DbopsError as exc:
        raise ArchiverInstallError(
            f"{exc.message}. The archiver runs as {spec.os_user or 'the current user'} with {spec.python}: that user "
            "needs read access to the archiver directory, write access to a local repository, and for S3 the "
            "python3-boto3 package"
        ) from exc

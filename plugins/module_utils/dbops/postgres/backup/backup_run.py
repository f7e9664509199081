"""One PostgreSQL backup being taken: its id, its clock, a private staging directory, and the record it ends in.

Base backups and logical dumps differ in the program they run and what they record; how a run starts, stages its
files, stores them with their checksums and describes itself to the catalog is the same and lives here.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import ObjectInfo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import BackupRecord, new_backup_id


@dataclass
class TakenBackup:
    """A stored backup and how it was taken; its record is not in the catalog yet."""

    record: BackupRecord
    commands: list[str] = field(default_factory=list)
    duration_ms: int = 0


@dataclass
class BackupRun:
    kind: str
    backup_id: str
    started: datetime
    staging: Path
    clock: float = field(default_factory=time.monotonic)
    commands: list[str] = field(default_factory=list)

    def run_program(self, argv: list[str], env: dict[str, str], failure: str) -> None:
        """Run a PostgreSQL client program for this backup (as the invoking user: the staging dir is private);
        BackupError starting with failure when it fails."""
        self.commands.append(" ".join(argv))
        try:
            ClusterOwner(None).run(argv, env=env, what=Path(argv[0]).name)
        except DbopsError as exc:
            raise BackupError(f"{failure}: {exc.message}") from exc

    def finish(self, stored: list[ObjectInfo], details: dict[str, Any], **positions: str) -> TakenBackup:
        """The record of what was stored (positions: archive_start / archive_stop for base backups)."""
        objects = [{"key": info.key, "size": info.size, "sha256": info.sha256} for info in stored]
        record = BackupRecord(backup_id=self.backup_id, engine="postgres", kind=self.kind,
                              started_at=to_iso(self.started), finished_at=to_iso(utc_now()),
                              size_bytes=sum(info.size for info in stored), objects=objects, details=details,
                              **positions)
        return TakenBackup(record=record, commands=self.commands,
                           duration_ms=int((time.monotonic() - self.clock) * 1000))


@contextmanager
def backup_run(kind: str, backup_id: str | None, staging_dir: str | None) -> Iterator[BackupRun]:
    """A run with a fresh staging directory under staging_dir (the system temp dir by default), removed after."""
    started = utc_now()
    backup_id = backup_id or new_backup_id("postgres", kind, started)
    staging = Path(tempfile.mkdtemp(prefix=f"dbops-{backup_id}-", dir=staging_dir))
    try:
        yield BackupRun(kind=kind, backup_id=backup_id, started=started, staging=staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

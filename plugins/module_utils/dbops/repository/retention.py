"""Retention: keep the newest N full backups per engine, and only the archive some kept backup still needs.

Expiring is ordered so that an interruption never leaves the catalog promising something that is gone: catalog
entries go first, then their objects; archive below the oldest kept backup's archive_start goes last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    ArchiveRange,
    BackupRecord,
    Catalog,
    RecoveryPointRecord,
)

# (engine, kind) of the backups that count as "full" and anchor an engine's continuous archive.
FULL_KINDS = {"postgres": "base", "mongodb": "dump"}
WAL_PREFIX = "pg/wal/"
# Where backups keep their objects, one directory per backup id; objects there without a catalog entry are what an
# interrupted backup left behind. Only ids older than ORPHAN_AGE are removed, so a backup in progress is safe.
BACKUP_PREFIXES = ("pg/base/", "pg/logical/", "mongodb/dumps/")
ORPHAN_AGE = timedelta(days=1)
_ID_STAMP = re.compile(r"-(\d{8}T\d{6}\d{6}Z)-")


@dataclass
class RetentionPlan:
    keep: int
    expired_backups: list[BackupRecord] = field(default_factory=list)
    expired_ranges: list[ArchiveRange] = field(default_factory=list)
    expired_wal: list[str] = field(default_factory=list)
    expired_points: list[RecoveryPointRecord] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # keys of interrupted backups
    oldest_kept: dict[str, str] = field(default_factory=dict)  # engine -> backup_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep": self.keep,
            "expired_backups": [b.backup_id for b in self.expired_backups],
            "expired_archive_ranges": [r.range_id for r in self.expired_ranges],
            "expired_wal_segments": len(self.expired_wal),
            "expired_wal_first": self.expired_wal[0] if self.expired_wal else None,
            "expired_wal_last": self.expired_wal[-1] if self.expired_wal else None,
            "expired_recovery_points": [p.name for p in self.expired_points],
            "orphaned_objects": len(self.orphans),
            "oldest_kept": self.oldest_kept,
        }

    @property
    def empty(self) -> bool:
        return not (self.expired_backups or self.expired_ranges or self.expired_wal or self.expired_points
                    or self.orphans)


def _wal_position(name: str) -> str | None:
    """Archive position of a WAL archive file name (segment, .partial or .backup file); None for history files."""
    stem = name.split(".", 1)[0]
    if len(stem) == 24 and all(c in "0123456789ABCDEF" for c in stem):
        return stem[8:]
    return None


def plan_retention(catalog: Catalog, keep: int, now: datetime | None = None) -> RetentionPlan:
    if keep < 1:
        raise RepositoryError(f"keep must be at least 1 (got {keep}): retention never removes every backup")
    plan = RetentionPlan(keep=keep)
    for engine, kind in FULL_KINDS.items():
        fulls = catalog.backups(engine=engine, kind=kind)
        if len(fulls) <= keep:
            if fulls:
                plan.oldest_kept[engine] = fulls[0].backup_id
            continue
        kept = fulls[-keep:]
        plan.expired_backups.extend(fulls[:-keep])
        oldest = kept[0]
        plan.oldest_kept[engine] = oldest.backup_id
        floor = oldest.archive_start
        if floor is None:
            continue
        if engine == "postgres":
            for info in catalog.repo.list(WAL_PREFIX):
                position = _wal_position(info.key[len(WAL_PREFIX):])
                if position is not None and position < floor:
                    plan.expired_wal.append(info.key)
        else:
            plan.expired_ranges.extend(r for r in catalog.archive_ranges(engine) if r.end < floor)
        if engine == "postgres":
            # A point older than the oldest kept base backup can no longer be reached.
            plan.expired_points.extend(p for p in catalog.recovery_points()
                                       if p.postgres and p.created_at < oldest.finished_at)
    # Logical dumps are counted on their own: keep the newest N of them as well.
    logical = catalog.backups(engine="postgres", kind="logical")
    if len(logical) > keep:
        plan.expired_backups.extend(logical[:-keep])
    plan.orphans = find_orphans(catalog, now)
    return plan


def find_orphans(catalog: Catalog, now: datetime | None = None) -> list[str]:
    """Objects under a backup id that has no catalog entry and is older than ORPHAN_AGE."""
    known = {b.backup_id for b in catalog.backups()}
    cutoff = (now or utc_now()) - ORPHAN_AGE
    orphans = []
    for prefix in BACKUP_PREFIXES:
        for info in catalog.repo.list(prefix):
            backup_id = info.key[len(prefix):].split("/", 1)[0]
            match = _ID_STAMP.search(backup_id)
            if backup_id in known or not match:
                continue
            started = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
            if started < cutoff:
                orphans.append(info.key)
    return orphans


def apply_retention(catalog: Catalog, plan: RetentionPlan) -> None:
    for point in plan.expired_points:
        catalog.remove_recovery_point(point.name)
    for backup in plan.expired_backups:
        catalog.remove_backup(backup.backup_id)
    for archive_range in plan.expired_ranges:
        catalog.remove_archive_range(archive_range)
    for key in plan.expired_wal:
        catalog.repo.delete(key)
    for key in plan.orphans:
        catalog.repo.delete(key)

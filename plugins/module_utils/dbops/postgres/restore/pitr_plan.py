"""Deciding a PostgreSQL point-in-time restore before anything is touched.

From the target (a recovery point name, a time or an LSN) and the catalog: the base backup that precedes it, the
recovery settings, and proof that the WAL archive covers backup -> target without a gap. Every way the restore could
be impossible (unknown name, target before the oldest backup, after the newest archive, a WAL gap) is an error here,
while the server still runs untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import from_epoch, parse_iso, to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.chain import WalArchive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    DEFAULT_SEGMENT_SIZE,
    TimelinePath,
    format_lsn,
    history_name,
    parse_lsn,
    segment_name,
    segment_number,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    BackupRecord,
    Catalog,
    RecoveryPointRecord,
)


@dataclass(frozen=True)
class PgTarget:
    """Where recovery stops. kind is name | time | lsn; the lsn is known for names and LSNs."""

    kind: str
    value: str
    lsn: int | None = None
    moment: datetime | None = None
    point: RecoveryPointRecord | None = None  # for a name: the catalog's point, which knows its timeline

    @property
    def timeline(self) -> int | None:
        return int(self.point.postgres["timeline"]) if self.point and self.point.postgres else None

    @property
    def internal_name(self) -> str | None:
        """The unique name of the restore point in the WAL (the user's name repeats across drills)."""
        return self.point.postgres["internal_name"] if self.point and self.point.postgres else None

    def wall_time(self) -> datetime:
        """The moment to recover to; only a target without an LSN is decided by it (a time target has one)."""
        if self.moment is None:
            raise RestoreError(f"{self.describe()} has no time to recover to")
        return self.moment

    def describe(self) -> str:
        if self.kind == "name":
            return f"recovery point {self.value!r} (LSN {format_lsn(self.lsn or 0)})"
        return f"{self.kind} {self.value}"

    def settings(self, timeline_override: str | None = None) -> dict[str, str]:
        """The recovery_target_* settings for postgresql.auto.conf."""
        result: dict[str, str] = {}
        if self.kind == "name":
            result["recovery_target_name"] = self.internal_name or self.value
        elif self.kind == "time":
            # PostgreSQL's recovery_target_time does not accept ISO 8601's "T" and "Z".
            moment = self.wall_time().astimezone(UTC)
            result["recovery_target_time"] = moment.strftime("%Y-%m-%d %H:%M:%S.%f+00")
        else:
            result["recovery_target_lsn"] = format_lsn(self.lsn or 0)
        result["recovery_target_action"] = "promote"
        result["recovery_target_inclusive"] = "on"
        timeline = timeline_override or (str(self.timeline) if self.timeline else "latest")
        result["recovery_target_timeline"] = timeline
        return result


@dataclass(frozen=True)
class PgTargetSpec:
    """The target as asked for: exactly one of name, time, lsn; optionally a timeline and a base backup."""

    name: str | None = None
    time: str | None = None
    lsn: str | None = None
    timeline: str | None = None
    backup_id: str | None = None

    def resolve(self, catalog: Catalog) -> PgTarget:
        return resolve_target(catalog, target_name=self.name, target_time=self.time, target_lsn=self.lsn)


def resolve_target(catalog: Catalog, *, target_name: str | None = None, target_time: str | None = None,
                   target_lsn: str | None = None) -> PgTarget:
    given = [v for v in (target_name, target_time, target_lsn) if v]
    if len(given) != 1:
        raise RestoreError("give exactly one of target_name, target_time or target_lsn")
    if target_name:
        point = catalog.get_recovery_point(target_name)
        if point is None:
            known = ", ".join(p.name for p in catalog.recovery_points()[-10:]) or "none"
            raise RestoreError(f"recovery point {target_name!r} does not exist in the catalog of "
                               f"{catalog.repo.describe()} (latest known: {known}); nothing was touched")
        if not point.postgres:
            raise RestoreError(f"recovery point {target_name!r} has no PostgreSQL position; nothing was touched")
        return PgTarget(kind="name", value=target_name, lsn=parse_lsn(point.postgres["lsn"]),
                        moment=parse_iso(point.postgres.get("time") or point.created_at), point=point)
    if target_time:
        try:
            moment = parse_iso(target_time)
        except ValueError as exc:
            raise RestoreError(f"invalid target_time {target_time!r}: use ISO 8601 like 2026-11-25T14:01:00Z") from exc
        return PgTarget(kind="time", value=to_iso(moment), moment=moment)
    try:
        lsn = parse_lsn(target_lsn or "")
    except Exception as exc:
        raise RestoreError(f"invalid target_lsn {target_lsn!r}: expected the form 0/3000060") from exc
    return PgTarget(kind="lsn", value=format_lsn(lsn), lsn=lsn)


@dataclass
class PgRestorePlan:
    target: PgTarget
    backup: BackupRecord
    segment_size: int
    required_first: str
    required_last: str | None
    archive_newest: str | None
    settings: dict[str, str] = field(default_factory=dict)
    # Every archived file recovery will read: segments from the backup's start to the target, history files.
    wal_segments: tuple[str, ...] = ()
    histories: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.describe(), "backup_id": self.backup.backup_id,
            "backup_stop_lsn": self.backup.details.get("stop_lsn"), "backup_finished_at": self.backup.finished_at,
            "wal_from": self.required_first, "wal_to": self.required_last, "archive_newest": self.archive_newest,
            "recovery_settings": self.settings,
        }


def _backup_precedes(backup: BackupRecord, target: PgTarget) -> bool:
    if target.lsn is not None:
        return parse_lsn(backup.details["stop_lsn"]) <= target.lsn
    return parse_iso(backup.finished_at) <= target.wall_time()


def choose_backup(backups: list[BackupRecord], target: PgTarget, backup_id: str | None = None) -> BackupRecord:
    """The newest base backup consistent before the target (or the one asked for, if it qualifies)."""
    if not backups:
        raise RestoreError("the repository holds no PostgreSQL base backup; nothing was touched")
    if backup_id:
        chosen = [b for b in backups if b.backup_id == backup_id]
        if not chosen:
            raise RestoreError(f"base backup {backup_id} is not in the catalog; nothing was touched")
        if not _backup_precedes(chosen[0], target):
            raise RestoreError(f"base backup {backup_id} ends after {target.describe()}; nothing was touched")
        return chosen[0]
    candidates = [b for b in backups if _backup_precedes(b, target)]
    if target.timeline is not None:
        # A backup taken on a later timeline than the point cannot replay back onto the point's timeline.
        candidates = [b for b in candidates if int(b.details.get("timeline", 1)) <= target.timeline]
    if not candidates:
        oldest = backups[0]
        raise RestoreError(
            f"{target.describe()} is before the oldest base backup {oldest.backup_id} (consistent at LSN "
            f"{oldest.details.get('stop_lsn')}, {oldest.finished_at}); nothing was touched"
        )
    return candidates[-1]


def plan_restore(repo: Repository, catalog: Catalog, target: PgTarget, *, backup_id: str | None = None,
                 timeline_override: str | None = None, now: float | None = None) -> PgRestorePlan:
    backups = catalog.backups(engine="postgres", kind="base")
    backup = choose_backup(backups, target, backup_id)
    seg = int(backup.details.get("wal_segment_size", DEFAULT_SEGMENT_SIZE))
    archive = WalArchive.scan(repo, seg)
    newest = archive.newest()
    start_segno = segment_number(parse_lsn(backup.details["start_lsn"]), seg)
    path_timeline = target.timeline
    if path_timeline is None:
        path_timeline = int(timeline_override) if timeline_override and timeline_override.isdigit() else \
            max(archive.segments or {int(backup.details.get("timeline", 1)): set()})
    path = archive.timeline_path(repo, path_timeline)
    if not path.contains(int(backup.details.get("timeline", 1))):
        raise RestoreError(f"base backup {backup.backup_id} (timeline {backup.details.get('timeline')}) is not on "
                           f"the history of timeline {path_timeline}; nothing was touched")
    newest_on_path = archive.newest_on_path(path)
    if target.lsn is not None:
        last_segno = segment_number(max(target.lsn - 1, 0), seg)
        if newest_on_path is None or last_segno > newest_on_path:
            raise RestoreError(
                f"{target.describe()} is after the newest archived WAL (newest: {newest or 'none'}); the archive "
                "cannot reach it. Nothing was touched"
            )
    else:
        moment = target.wall_time().timestamp()
        if moment > (now if now is not None else time.time()):
            raise RestoreError(f"{target.describe()} is in the future; nothing was touched")
        if newest_on_path is None or archive.newest_modified is None or moment > archive.newest_modified:
            raise RestoreError(
                f"{target.describe()} is after the newest archived WAL (newest: {newest or 'none'}, archived at "
                f"{_iso_ts(archive.newest_modified)}); nothing was touched"
            )
        last_segno = newest_on_path
    missing = archive.missing(path, start_segno, last_segno)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise RestoreError(
            f"WAL gap: {len(missing)} segment(s) needed to replay base backup {backup.backup_id} to "
            f"{target.describe()} are missing from {repo.describe()}: {shown}; nothing was touched"
        )
    segments = tuple(segment_name(path.segment_timeline(segno, seg), segno, seg)
                     for segno in range(start_segno, last_segno + 1))
    return PgRestorePlan(
        target=target, backup=backup, segment_size=seg,
        required_first=segment_name(path.segment_timeline(start_segno, seg), start_segno, seg),
        required_last=segment_name(path.segment_timeline(last_segno, seg), last_segno, seg),
        archive_newest=newest, settings=target.settings(timeline_override), wal_segments=segments,
        histories=_histories_on_path(archive, path),
    )


def _histories_on_path(archive: WalArchive, path: TimelinePath) -> tuple[str, ...]:
    """History files of the timelines recovery walks (the target's is required; ancestors' when archived)."""
    required = {path.target} - {1}
    walked = {path.target, *(switch.timeline for switch in path.switches)}
    return tuple(history_name(timeline) for timeline in sorted(walked)
                 if timeline in required or timeline in archive.histories)


def _iso_ts(value: float | None) -> str:
    if value is None:
        return "never"
    return to_iso(from_epoch(value))

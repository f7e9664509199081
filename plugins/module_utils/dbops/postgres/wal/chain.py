"""What the WAL archive holds, whether it is gap-free, and what the server's archiver reports.

A WAL gap found at restore time is the most common way backups turn out useless, so the chain is checked when a
backup is taken, when the catalog is listed and before a restore touches anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver import WAL_PREFIX
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    DEFAULT_SEGMENT_SIZE,
    HISTORY_NAME,
    SEGMENT_NAME,
    TimelinePath,
    history_name,
    parse_history,
    parse_segment_name,
    segment_name,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository


@dataclass
class WalArchive:
    """The archive's content: segments by timeline, history files, and when the newest segment arrived."""

    segments: dict[int, set[int]] = field(default_factory=dict)  # timeline -> segment numbers
    names: set[str] = field(default_factory=set)
    histories: set[int] = field(default_factory=set)
    segment_size: int = DEFAULT_SEGMENT_SIZE
    newest_modified: float | None = None  # when the most recently stored segment arrived (POSIX seconds)

    @classmethod
    def scan(cls, repo: Repository, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WalArchive:
        archive = cls(segment_size=segment_size)
        for info in repo.list(WAL_PREFIX):
            name = info.key[len(WAL_PREFIX):]
            if SEGMENT_NAME.match(name):
                timeline, segno = parse_segment_name(name, segment_size)
                archive.segments.setdefault(timeline, set()).add(segno)
                archive.names.add(name)
                if info.modified is not None:
                    archive.newest_modified = max(archive.newest_modified or 0.0, info.modified)
            else:
                match = HISTORY_NAME.match(name)
                if match:
                    archive.histories.add(int(match.group(1), 16))
        return archive

    def newest(self) -> str | None:
        """The newest segment name of the newest timeline that has any."""
        if not self.segments:
            return None
        timeline = max(self.segments)
        return segment_name(timeline, max(self.segments[timeline]), self.segment_size)

    def newest_segno(self) -> int | None:
        return max((max(segnos) for segnos in self.segments.values()), default=None)

    def timeline_path(self, repo: Repository, target_timeline: int) -> TimelinePath:
        if target_timeline == 1:
            return TimelinePath(1, ())
        if target_timeline not in self.histories:
            raise RestoreError(
                f"timeline {target_timeline} has no history file ({history_name(target_timeline)}) in the WAL archive "
                f"of {repo.describe()}"
            )
        text = repo.get_bytes(f"{WAL_PREFIX}{history_name(target_timeline)}").decode()
        return TimelinePath(target_timeline, tuple(parse_history(text)))

    def newest_on_path(self, path: TimelinePath) -> int | None:
        """The newest segment recovery along path would read: segments of a parent timeline written after the
        switch to its child (an abandoned future, left by a restore to an earlier point) do not count."""
        return max((segno for tl, segnos in self.segments.items() for segno in segnos
                    if path.segment_timeline(segno, self.segment_size) == tl), default=None)

    def missing(self, path: TimelinePath, first_segno: int, last_segno: int) -> list[str]:
        """Segments recovery along path would need between the two segment numbers that are not archived."""
        gaps = []
        for segno in range(first_segno, last_segno + 1):
            timeline = path.segment_timeline(segno, self.segment_size)
            if segno not in self.segments.get(timeline, set()):
                gaps.append(segment_name(timeline, segno, self.segment_size))
        return gaps


@dataclass
class ChainReport:
    """The archive from a starting segment up to the newest archived one, along the current timeline's history."""

    ok: bool
    first: str | None
    last: str | None
    timeline: int | None
    segments: int
    missing: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "first": self.first, "last": self.last, "timeline": self.timeline,
                "segments": self.segments, "missing": self.missing[:50], "missing_count": len(self.missing)}


def check_chain(repo: Repository, archive: WalArchive, start_segno: int | None,
                timeline: int | None = None) -> ChainReport:
    """Check that every segment from start_segno to the newest archived one is present (no gap)."""
    newest = archive.newest_segno()
    if start_segno is None or newest is None:
        return ChainReport(ok=start_segno is None, first=None, last=archive.newest(), timeline=timeline,
                           segments=0, missing=[] if start_segno is None else ["(no WAL archived yet)"])
    target_timeline = timeline or max(archive.segments)
    path = archive.timeline_path(repo, target_timeline)
    newest_on_path = archive.newest_on_path(path)
    last = start_segno if newest_on_path is None else newest_on_path
    missing = archive.missing(path, start_segno, last) if last >= start_segno else []
    first_name = segment_name(path.segment_timeline(start_segno, archive.segment_size), start_segno,
                              archive.segment_size)
    last_name = segment_name(path.segment_timeline(last, archive.segment_size), last, archive.segment_size)
    return ChainReport(ok=not missing, first=first_name, last=last_name, timeline=target_timeline,
                       segments=max(last - start_segno + 1, 0), missing=missing)


def archiver_status(conn) -> dict[str, Any]:
    """pg_stat_archiver, with a verdict: failing means the last failure is newer than the last success."""
    row = conn.execute("""
        select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,
               last_failed_time, stats_reset, current_setting('archive_mode'), current_setting('archive_command')
          from pg_stat_archiver
    """).fetchone()
    (archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time,
     stats_reset, archive_mode, archive_command) = row
    failing = bool(last_failed_time and (last_archived_time is None or last_failed_time > last_archived_time))
    return {
        "archive_mode": archive_mode,
        "archive_command": archive_command,
        "archived_count": archived_count,
        "last_archived_wal": last_archived_wal,
        "last_archived_time": to_iso(last_archived_time),
        "failed_count": failed_count,
        "last_failed_wal": last_failed_wal,
        "last_failed_time": to_iso(last_failed_time),
        "stats_reset": to_iso(stats_reset),
        "failing": failing,
    }

"""The repository's catalog: which backups, archive ranges and recovery points exist.

Every entry is its own JSON object under ``catalog/`` (one per backup, per recovery point, per archive range),
written once with put_bytes (atomic: temp file + rename locally, a single PUT on S3) and never read-modified-written.
That is what makes concurrent writers safe: the WAL archiver, a backup and a recovery point never touch the same
key, so no lock is needed and no update is lost. ``catalog.json`` at the repository root is a convenience snapshot
of all entries for people browsing the repository, rewritten after each change; the entries are the truth.

A backup is written to the catalog only after all its objects are stored and verified, so an entry always
describes a complete backup; objects of an interrupted backup are orphans that retention removes.

Positions ("archive_start", ArchiveRange.start/end) are engine-specific strings whose lexicographic order is
their order in time: PostgreSQL uses the 16 hex digits of a WAL segment without its timeline (LLLLLLLLSSSSSSSS),
MongoDB uses "<seconds:010d>.<increment:010d>" of a cluster time. Retention compares nothing else.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    ObjectInfo,
    ObjectMissing,
    Repository,
)

CATALOG_PREFIX = "catalog/"
BACKUPS_PREFIX = "catalog/backups/"
POINTS_PREFIX = "catalog/recovery_points/"
RANGES_PREFIX = "catalog/archive/"
META_PREFIX = "catalog/meta/"
SNAPSHOT_KEY = "catalog.json"
FORMAT_VERSION = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


if TYPE_CHECKING:  # typeshed's protocol of a dataclass; not importable at run time
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


def record_from_dict(cls: type[Record], data: dict[str, Any]) -> Record:
    """A catalog record (a dataclass) from its JSON form; keys a newer version of dbops added are ignored."""
    known = {item.name for item in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in known})


def new_backup_id(engine: str, kind: str, moment: datetime | None = None) -> str:
    """Sortable, unique id: engine-kind-<UTC timestamp>-<random>."""
    stamp = (moment or utc_now()).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{engine}-{kind}-{stamp}-{uuid.uuid4().hex[:6]}"


def validate_name(name: str, what: str = "recovery point name") -> str:
    if not NAME_PATTERN.match(name or ""):
        raise RepositoryError(
            f"invalid {what} {name!r}: use 1-63 characters from letters, digits, '_', '.', '-', starting with a "
            "letter or digit"
        )
    return name


@dataclass
class BackupRecord:
    """One complete backup. objects lists every stored key with its size and sha256 (checked before a restore)."""

    backup_id: str
    engine: str  # "postgres" | "mongodb"
    kind: str  # "base" | "logical" (postgres), "dump" (mongodb)
    started_at: str
    finished_at: str
    size_bytes: int
    objects: list[dict[str, Any]] = field(default_factory=list)
    # Archive position this backup needs replay from (PITR) and the one where it becomes consistent.
    archive_start: str | None = None
    archive_stop: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def object_infos(self) -> list[ObjectInfo]:
        return [ObjectInfo(item["key"], int(item["size"]), item["sha256"]) for item in self.objects]


@dataclass
class RecoveryPointRecord:
    """A named point both databases can return to. postgres/mongodb hold each engine's position at that point."""

    name: str
    created_at: str
    postgres: dict[str, Any] | None = None  # lsn, internal_name, timeline, wal_file, time
    mongodb: dict[str, Any] | None = None  # cluster_time {t, i}, position, time, ...


@dataclass
class ArchiveRange:
    """A contiguous piece of a continuous archive (e.g. one MongoDB oplog chunk): positions start..end."""

    engine: str
    range_id: str
    start: str
    end: str
    start_time: str | None = None
    end_time: str | None = None
    keys: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps({"format": FORMAT_VERSION, **data}, indent=2, sort_keys=True).encode()


def _load(repo: Repository, key: str) -> dict[str, Any]:
    try:
        data = json.loads(repo.get_bytes(key))
    except ValueError as exc:
        raise RepositoryError(f"catalog entry {key} in {repo.describe()} is not valid JSON: {exc}") from exc
    data.pop("format", None)
    return data


class Catalog:
    """Read and write catalog entries in one repository."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    # backups -------------------------------------------------------------------------------------------------
    def add_backup(self, record: BackupRecord) -> None:
        validate_name(record.backup_id, "backup id")
        self.repo.put_bytes(f"{BACKUPS_PREFIX}{record.backup_id}.json", _dump(asdict(record)))

    def backups(self, engine: str | None = None, kind: str | None = None) -> list[BackupRecord]:
        """Complete backups, oldest first (by finished_at, then id)."""
        records = [record_from_dict(BackupRecord, _load(self.repo, info.key))
                   for info in self.repo.list(BACKUPS_PREFIX) if info.key.endswith(".json")]
        records = [r for r in records if (engine is None or r.engine == engine) and (kind is None or r.kind == kind)]
        records.sort(key=lambda r: (r.finished_at, r.backup_id))
        return records

    def get_backup(self, backup_id: str) -> BackupRecord:
        try:
            key = f"{BACKUPS_PREFIX}{validate_name(backup_id, 'backup id')}.json"
            return record_from_dict(BackupRecord, _load(self.repo, key))
        except ObjectMissing as exc:
            raise RepositoryError(f"backup {backup_id} is not in the catalog of {self.repo.describe()}") from exc

    def remove_backup(self, backup_id: str) -> None:
        """Drop the catalog entry first (the backup stops being offered), then its objects."""
        record = self.get_backup(backup_id)
        self.repo.delete(f"{BACKUPS_PREFIX}{backup_id}.json")
        for info in record.object_infos():
            self.repo.delete(info.key)

    # recovery points -----------------------------------------------------------------------------------------
    def add_recovery_point(self, point: RecoveryPointRecord) -> None:
        validate_name(point.name)
        self.repo.put_bytes(f"{POINTS_PREFIX}{point.name}.json", _dump(asdict(point)))

    def get_recovery_point(self, name: str) -> RecoveryPointRecord | None:
        try:
            return record_from_dict(RecoveryPointRecord, _load(self.repo, f"{POINTS_PREFIX}{validate_name(name)}.json"))
        except ObjectMissing:
            return None

    def recovery_points(self) -> list[RecoveryPointRecord]:
        points = [record_from_dict(RecoveryPointRecord, _load(self.repo, info.key))
                  for info in self.repo.list(POINTS_PREFIX) if info.key.endswith(".json")]
        points.sort(key=lambda p: (p.created_at, p.name))
        return points

    def remove_recovery_point(self, name: str) -> None:
        self.repo.delete(f"{POINTS_PREFIX}{validate_name(name)}.json")

    # archive ranges ------------------------------------------------------------------------------------------
    def add_archive_range(self, archive_range: ArchiveRange) -> None:
        validate_name(archive_range.engine, "engine")
        validate_name(archive_range.range_id, "archive range id")
        key = f"{RANGES_PREFIX}{archive_range.engine}/{archive_range.range_id}.json"
        self.repo.put_bytes(key, _dump(asdict(archive_range)))

    def archive_ranges(self, engine: str) -> list[ArchiveRange]:
        """Ranges of one engine's archive, ordered by start position."""
        ranges = [record_from_dict(ArchiveRange, _load(self.repo, info.key))
                  for info in self.repo.list(f"{RANGES_PREFIX}{validate_name(engine, 'engine')}/")
                  if info.key.endswith(".json")]
        ranges.sort(key=lambda r: (r.start, r.end, r.range_id))
        return ranges

    def remove_archive_range(self, archive_range: ArchiveRange) -> None:
        """Drop the entry first, then its objects, so a half-done removal never leaves an entry without data."""
        self.repo.delete(f"{RANGES_PREFIX}{archive_range.engine}/{archive_range.range_id}.json")
        for key in archive_range.keys:
            self.repo.delete(key)

    # facts about the repository's databases (e.g. which PostgreSQL cluster it belongs to) -------------------
    def get_meta(self, name: str) -> dict[str, Any] | None:
        try:
            return _load(self.repo, f"{META_PREFIX}{validate_name(name, 'catalog meta name')}.json")
        except ObjectMissing:
            return None

    def put_meta(self, name: str, data: dict[str, Any]) -> None:
        self.repo.put_bytes(f"{META_PREFIX}{validate_name(name, 'catalog meta name')}.json", _dump(data))

    # the whole thing -----------------------------------------------------------------------------------------
    def snapshot(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything in the catalog as plain data (what backup state=list returns)."""
        ranges: dict[str, list[dict[str, Any]]] = {}
        for info in self.repo.list(RANGES_PREFIX):
            engine = info.key[len(RANGES_PREFIX):].split("/", 1)[0]
            ranges.setdefault(engine, [])
        for engine in sorted(ranges):
            ranges[engine] = [asdict(r) for r in self.archive_ranges(engine)]
        data: dict[str, Any] = {
            "repository": self.repo.describe(),
            "backups": [asdict(b) for b in self.backups()],
            "recovery_points": [asdict(p) for p in self.recovery_points()],
            "archive_ranges": ranges,
        }
        if extra:
            data.update(extra)
        return data

    def write_snapshot(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        data = self.snapshot(extra)
        self.repo.put_bytes(SNAPSHOT_KEY, _dump({"written_at": to_iso(utc_now()), **data}))
        return data

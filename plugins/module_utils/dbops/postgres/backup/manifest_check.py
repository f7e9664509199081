"""Checking a tar-format base backup against its backup_manifest without extracting it.

PostgreSQL 15's pg_verifybackup reads plain directories only, so checking a tar backup with it means writing the
whole data directory to disk first. Instead every file of the tars is sized and hashed as a stream (streamed_digest:
while pg_basebackup writes the tar, or afterwards from the file) and compared here with the manifest (pg_basebackup
is asked for SHA-256 manifest checksums): files the manifest lists but the tars lack are reported, and so are files
the tars hold that the manifest does not list. The manifest's own checksum is checked too, and the WAL needed for
consistency (pg_wal.tar, a few segments) is extracted and parsed with pg_waldump from the start to the stop LSN, as
pg_verifybackup would. Restores still run pg_verifybackup on the laid-down directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.streamed_digest import digest_written
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.tar_digest import ArchiveDigests

# Files pg_verifybackup does not expect in the manifest either (written or replaced at restore time).
NOT_IN_MANIFEST = {"backup_manifest", "postgresql.auto.conf", "standby.signal", "recovery.signal"}
MANIFEST_CHECKSUM_KEY = '"Manifest-Checksum"'


@dataclass(frozen=True)
class ManifestEntry:
    size: int
    algorithm: str
    checksum: str


@dataclass(frozen=True)
class WalRange:
    timeline: int
    start_lsn: str
    end_lsn: str


def wal_ranges(text: str) -> list[WalRange]:
    return [WalRange(timeline=int(item["Timeline"]), start_lsn=item["Start-LSN"], end_lsn=item["End-LSN"])
            for item in json.loads(text)["WAL-Ranges"]]


def check_manifest_checksum(text: str) -> None:
    """The manifest's last key is its SHA-256 over every byte before that key's line."""
    cut = text.rfind(MANIFEST_CHECKSUM_KEY)
    if cut < 0:
        raise DbopsError("backup manifest has no Manifest-Checksum")
    try:
        expected = json.loads(text)["Manifest-Checksum"]
    except (ValueError, KeyError) as exc:
        raise DbopsError(f"unreadable backup manifest: {exc}") from exc
    actual = hashlib.sha256(text[:cut].encode()).hexdigest()
    if actual != expected:
        raise DbopsError(f"backup manifest checksum mismatch (manifest says {expected}, content is {actual})")


def manifest_entries(text: str) -> dict[str, ManifestEntry]:
    entries = {}
    for item in json.loads(text)["Files"]:
        path = item.get("Path") or item.get("Encoded-Path")
        entries[path] = ManifestEntry(size=int(item["Size"]), algorithm=item.get("Checksum-Algorithm", "NONE"),
                                      checksum=str(item.get("Checksum", "")).lower())
    return entries


def _prefix_of(archive: str) -> str:
    """base.tar holds the data directory; <oid>.tar a tablespace, listed as pg_tblspc/<oid>/ in the manifest."""
    stem = archive.split(".tar", 1)[0]
    return "" if stem == "base" else f"pg_tblspc/{stem}/"


def check_digests(archives: Sequence[ArchiveDigests], entries: dict[str, ManifestEntry]) -> int:
    """The one comparison of a backup's files with its manifest: every file the tars hold is listed with the same
    size and SHA-256, and every file listed is in the tars. Returns the number of files checked."""
    seen: set[str] = set()
    for digests in archives:
        prefix = _prefix_of(digests.archive)
        for name, found in sorted(digests.files.items()):
            path = prefix + name
            if path in NOT_IN_MANIFEST or path.startswith("pg_wal/"):
                continue
            entry = entries.get(path)
            if entry is None:
                raise DbopsError(f"{digests.archive}: {path} is present in the backup but not in the manifest")
            if path in seen:
                raise DbopsError(f"{digests.archive}: {path} is in more than one tar of the backup")
            seen.add(path)
            if found.size != entry.size:
                raise DbopsError(f"{digests.archive}: {path} has size {found.size}, the manifest says {entry.size}")
            if entry.algorithm == "NONE":
                continue
            if entry.algorithm != "SHA256":
                raise DbopsError(f"manifest checksum algorithm {entry.algorithm} cannot be checked without "
                                 "extracting: take the backup with SHA256 manifest checksums")
            if found.sha256 != entry.checksum:
                raise DbopsError(f"{digests.archive}: checksum mismatch for {path}")
    missing = sorted(set(entries) - seen - NOT_IN_MANIFEST)
    if missing:
        raise DbopsError(f"{len(missing)} file(s) of the manifest are missing from the backup, e.g. {missing[0]}")
    return len(seen)


def is_data_archive(name: str) -> bool:
    return ".tar" in name and not name.startswith("pg_wal.tar")


def check_data_files(staging: Path, manifest: Path, streamed: Sequence[ArchiveDigests] = ()) -> int:
    """Check every data tar in staging against the manifest; returns the number of files checked.

    streamed: tars already hashed while they were written (streamed_digest); the others are read now.
    """
    text = manifest.read_text()
    check_manifest_checksum(text)
    known = {digests.archive: digests for digests in streamed}
    archives = [known.get(archive.name) or digest_written(archive)
                for archive in sorted(staging.iterdir()) if is_data_archive(archive.name)]
    return check_digests(archives, manifest_entries(text))

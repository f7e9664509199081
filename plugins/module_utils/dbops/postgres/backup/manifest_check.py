"""Checking a tar-format base backup against its backup_manifest without extracting it.

PostgreSQL 15's pg_verifybackup reads plain directories only, so checking a tar backup with it means writing the
whole data directory to disk first. Instead the compressed tars are decompressed by the zstd / lz4 tool into a pipe
and read once as a tar stream: every member's size and SHA-256 is compared with the manifest (pg_basebackup is asked
for SHA-256 manifest checksums), files the manifest lists but the tars lack are reported, and so are files the tars
hold that the manifest does not list. The manifest's own checksum is checked too, and the WAL needed for consistency
(pg_wal.tar, a few segments) is extracted and parsed with pg_waldump from the start to the stop LSN, as
pg_verifybackup would. Restores still run pg_verifybackup on the laid-down directory.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup import tar_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.piped_process import (
    PipedProcess,
    start_piped,
)

# The engine runs the decompressors itself (it has no AnsibleModule and its run_command).
# pylint: disable=ansible-bad-function

CHUNK = 1 << 20
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


def _prefix_of(archive: Path) -> str:
    """base.tar holds the data directory; <oid>.tar a tablespace, listed as pg_tblspc/<oid>/ in the manifest."""
    stem = archive.name.split(".tar", 1)[0]
    return "" if stem == "base" else f"pg_tblspc/{stem}/"


def _digest(algorithm: str):
    if algorithm == "NONE":
        return None
    try:
        return hashlib.new(algorithm.lower().replace("-", ""))
    except ValueError as exc:
        raise DbopsError(f"manifest checksum algorithm {algorithm} cannot be checked without extracting: "
                         "take the backup with SHA256 manifest checksums") from exc


def _decompressed(archive: Path) -> PipedProcess | None:
    method = tar_archive.suffix_of(archive.name)
    if method == "none":
        return None
    tool = "zstd" if method == "zstd" else "lz4"
    return start_piped([tar_archive.tool(tool), "-d", "-c", "-q", str(archive)])


def check_archive(archive: Path, entries: dict[str, ManifestEntry], seen: set[str]) -> None:
    """Stream one tar of the backup and compare each regular file with its manifest entry."""
    prefix = _prefix_of(archive)
    producer = _decompressed(archive)
    stream: IO[bytes] = producer.stdout if producer else archive.open("rb")  # pylint: disable=consider-using-with
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                path = prefix + member.name.removeprefix("./")
                if path in NOT_IN_MANIFEST or path.startswith("pg_wal/"):
                    continue
                entry = entries.get(path)
                if entry is None:
                    raise DbopsError(f"{archive.name}: {path} is present in the backup but not in the manifest")
                seen.add(path)
                if member.size != entry.size:
                    raise DbopsError(f"{archive.name}: {path} has size {member.size}, the manifest says {entry.size}")
                digest = _digest(entry.algorithm)
                handle = tar.extractfile(member)
                if handle is None:  # only for members that are not regular files, skipped above
                    raise DbopsError(f"{archive.name}: {path} cannot be read from the tar stream")
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    if digest is not None:
                        digest.update(chunk)
                if digest is not None and digest.hexdigest() != entry.checksum:
                    raise DbopsError(f"{archive.name}: checksum mismatch for {path}")
        if producer:
            # Read to the end so the decompressor's own integrity check (zstd frame checksum) has run.
            while producer.stdout.read(CHUNK):
                pass
            producer.process.wait()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DbopsError(f"{archive.name}: unreadable tar stream: {exc}") from exc
    finally:
        if producer:
            producer.stdout.close()
            if producer.process.poll() is None:
                producer.process.kill()
            producer.process.wait()
        else:
            stream.close()
    if producer and producer.process.returncode != 0:
        raise DbopsError(f"{archive.name}: decompression failed: {producer.stderr.read().decode(errors='replace')}")


def check_data_files(staging: Path, manifest: Path) -> int:
    """Check every data tar in staging against the manifest; returns the number of files checked."""
    text = manifest.read_text()
    check_manifest_checksum(text)
    entries = manifest_entries(text)
    seen: set[str] = set()
    for archive in sorted(staging.iterdir()):
        if ".tar" in archive.name and not archive.name.startswith("pg_wal.tar"):
            check_archive(archive, entries, seen)
    missing = sorted(set(entries) - seen - NOT_IN_MANIFEST)
    if missing:
        raise DbopsError(f"{len(missing)} file(s) of the manifest are missing from the backup, e.g. {missing[0]}")
    return len(seen)

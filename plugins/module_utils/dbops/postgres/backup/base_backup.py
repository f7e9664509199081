"""PostgreSQL base backups: pg_basebackup (checked as it streams) -> repository -> catalog.

pg_basebackup writes tar format with server-side compression (zstd with worker threads, or lz4), so the server
compresses while it reads and only compressed bytes cross the connection; WAL needed for consistency is streamed
alongside (-X stream) into pg_wal.tar, which we compress ourselves. The backup manifest (SHA-256 per file) is kept.
While pg_basebackup writes base.tar.*, its files are sized and hashed as the bytes arrive (streamed_digest), so once
it exits only the comparison with the manifest it wrote last is left: every file checked, without a second read
and without extracting the data directory (PostgreSQL 15's pg_verifybackup reads plain directories only; restores
still run it after laying the files down). Only when every object is verified and stored, and the WAL from the
backup's start to its stop is archived and reads back intact (archive_proof), is a record returned for the catalog;
otherwise the backup fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup import manifest_check, tar_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.archive_proof import prove_archived
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.backup_run import (
    BackupRun,
    TakenBackup,
    backup_run,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.streamed_digest import (
    digest_while_written,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.tar_digest import ArchiveDigests
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import (
    DEFAULT_BIN_DIR,
    PgBinaries,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import ServerFacts, client_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    format_lsn,
    parse_lsn,
    position_of_lsn,
    segment_name,
    segment_number,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import ObjectInfo, Repository

BASE_PREFIX = "pg/base/"
COMPRESSIONS = ("zstd", "lz4", "none")


@dataclass(frozen=True)
class BaseBackupOptions:
    compression: str = "zstd"
    compression_level: int | None = None
    workers: int = 0  # zstd worker threads on the server; 0 = this host's CPU count
    verify: bool = True
    fast_checkpoint: bool = True
    staging_dir: str | None = None
    bin_dir: str = DEFAULT_BIN_DIR
    archive_wait: float = 60.0  # how long the backup's WAL may take to reach the archive before it fails


@dataclass
class ManifestSummary:
    start_lsn: int
    stop_lsn: int
    start_timeline: int
    stop_timeline: int
    files: int
    data_bytes: int


def read_manifest(path: Path) -> ManifestSummary:
    try:
        manifest = json.loads(path.read_text())
        ranges = manifest["WAL-Ranges"]
        files = manifest["Files"]
    except (OSError, ValueError, KeyError) as exc:
        raise BackupError(f"unreadable backup manifest: {exc}", path=path) from exc
    return ManifestSummary(
        start_lsn=parse_lsn(ranges[0]["Start-LSN"]), stop_lsn=parse_lsn(ranges[-1]["End-LSN"]),
        start_timeline=int(ranges[0]["Timeline"]), stop_timeline=int(ranges[-1]["Timeline"]),
        files=len(files), data_bytes=sum(int(item.get("Size", 0)) for item in files),
    )


def pg_basebackup_argv(options: BaseBackupOptions, conninfo: str, target: str, label: str) -> list[str]:
    if options.compression not in COMPRESSIONS:
        raise BackupError(f"unknown compression {options.compression!r}: use one of {', '.join(COMPRESSIONS)}")
    argv = [PgBinaries(options.bin_dir).path("pg_basebackup"), "-d", conninfo, "-D", target, "-F", "t",
            "-X", "stream", "--no-sync", "--label", label, "--manifest-checksums=SHA256"]
    if options.fast_checkpoint:
        argv += ["--checkpoint=fast"]
    if options.compression == "zstd":
        workers = options.workers or os.cpu_count() or 1
        level = options.compression_level or 1
        argv += [f"--compress=server-zstd:level={level},workers={workers}"]
    elif options.compression == "lz4":
        argv += [f"--compress=server-lz4:level={options.compression_level or 1}"]
    return argv


def verify_backup(staging: Path, manifest: Path, bin_dir: str, work_dir: Path,
                  streamed: Sequence[ArchiveDigests] = ()) -> None:
    """Check the data tars against the manifest as a stream, and parse the backup's WAL with pg_waldump.

    streamed: the tars hashed while pg_basebackup wrote them; any other data tar is read now. Only pg_wal.tar (the
    few segments streamed during the backup) is extracted, into work_dir.
    """
    manifest_check.check_data_files(staging, manifest, streamed)
    binaries = PgBinaries(bin_dir)
    work_dir.mkdir(mode=0o700)
    try:
        for archive in sorted(staging.iterdir()):
            if archive.name.startswith("pg_wal.tar"):
                tar_archive.extract(archive, work_dir)
        # The same check pg_verifybackup makes: every WAL record of each range of the manifest parses.
        for wal_range in manifest_check.wal_ranges(manifest.read_text()):
            ClusterOwner(None).run([binaries.path("pg_waldump"), "--quiet", f"--path={work_dir}",
                                    f"--timeline={wal_range.timeline}", f"--start={wal_range.start_lsn}",
                                    f"--end={wal_range.end_lsn}"], what="pg_waldump")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def take_base_backup(dsn: str, repo: Repository, facts: ServerFacts, options: BaseBackupOptions,
                     backup_id: str | None = None) -> TakenBackup:
    """Take, verify and store a base backup, and prove its WAL archived; the record is not yet in the catalog.

    Every base backup goes through prove_archived: one whose WAL does not reach the archive (archiving off or
    failing) raises BackupError instead of returning a record that could not be restored.
    """
    client = client_connection(dsn)
    with backup_run("base", backup_id, options.staging_dir) as run:
        target = run.staging / "backup"
        argv = pg_basebackup_argv(options, client.conninfo, str(target), f"dbops {run.backup_id}")
        streamed = _run_pg_basebackup(run, argv, client.env(), target, options)
        manifest = target / "backup_manifest"
        summary = read_manifest(manifest)
        details = _details(run.backup_id, summary, facts, options)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbops-archive-proof") as pool:
            # The server ships the backup's WAL to the archive meanwhile: waiting for it overlaps checking and
            # storing the files. Neither result counts alone, and a failure of either fails the backup.
            proving = pool.submit(_prove_archived, dsn, repo, run.backup_id, details, options.archive_wait)
            stored = _check_and_store(run, target, repo, streamed, options)
            verified = proving.result()
        taken = run.finish(stored, details,
                           archive_start=position_of_lsn(summary.start_lsn, facts.wal_segment_size),
                           archive_stop=position_of_lsn(summary.stop_lsn, facts.wal_segment_size))
    taken.record.details["wal_archived"] = verified
    taken.commands.append(f"wait for and verify the {verified} archived WAL file(s) of <{taken.record.backup_id}>")
    return taken


def _check_and_store(run: BackupRun, target: Path, repo: Repository, streamed: list[ArchiveDigests],
                     options: BaseBackupOptions) -> list[ObjectInfo]:
    wal_tar = target / "pg_wal.tar"
    if wal_tar.exists():
        tar_archive.compress_file(wal_tar, options.compression)
    if options.verify:
        run.commands.append(f"check the files of base.tar (sized and sha256-hashed while pg_basebackup wrote "
                            f"it) against backup_manifest + pg_waldump <{run.backup_id}>")
        try:
            verify_backup(target, target / "backup_manifest", options.bin_dir, run.staging / "verify", streamed)
        except DbopsError as exc:
            raise BackupError(f"base backup {run.backup_id} did not verify: {exc.message}") from exc
    return [repo.put_file(f"{BASE_PREFIX}{run.backup_id}/{path.name}", path) for path in sorted(target.iterdir())]


def _prove_archived(dsn: str, repo: Repository, backup_id: str, details: dict[str, Any], timeout: float) -> int:
    with connect(dsn) as conn:
        return prove_archived(conn, repo, backup_id, details, timeout)


def _run_pg_basebackup(run: BackupRun, argv: list[str], env: dict[str, str], target: Path,
                       options: BaseBackupOptions) -> list[ArchiveDigests]:
    """Run pg_basebackup; with verify, base.tar's files are hashed as it writes them (tablespace tars, rare, are
    read once it is done)."""
    failure = f"base backup {run.backup_id} failed"
    if not options.verify:
        run.run_program(argv, env, failure)
        return []
    archive = target / f"base.tar{tar_archive.SUFFIXES[options.compression]}"
    try:
        return [digest_while_written(lambda: run.run_program(argv, env, failure), archive, options.compression)]
    except BackupError:
        raise  # pg_basebackup failed: what it said is the story, not the stream it cut short
    except DbopsError as exc:
        raise BackupError(f"base backup {run.backup_id} did not verify: {exc.message}") from exc


def _details(backup_id: str, summary: ManifestSummary, facts: ServerFacts,
             options: BaseBackupOptions) -> dict[str, Any]:
    seg = facts.wal_segment_size
    return {
        "start_lsn": format_lsn(summary.start_lsn), "stop_lsn": format_lsn(summary.stop_lsn),
        "timeline": summary.start_timeline, "stop_timeline": summary.stop_timeline,
        "start_wal": segment_name(summary.start_timeline, segment_number(summary.start_lsn, seg), seg),
        "stop_wal": segment_name(summary.stop_timeline, segment_number(max(summary.stop_lsn - 1, 0), seg), seg),
        "system_identifier": facts.system_identifier, "server_version_num": facts.server_version_num,
        "wal_segment_size": seg, "compression": options.compression, "verified": options.verify,
        "manifest_key": f"{BASE_PREFIX}{backup_id}/backup_manifest", "files": summary.files,
        "data_bytes": summary.data_bytes,
    }

"""The long-lived WAL uploader: several segments in flight to the repository, one verdict each in the spool.

    <python3> <dbops-wal-archive> --config <file> upload

PostgreSQL calls archive_command once per segment, one after the other, so a command that uploads its own segment
caps archiving at one upload's latency (plus, for S3, starting Python and boto3: about a second). The uploader keeps
one repository client open and reads ahead: besides the segments archive_command asks for (spool/request), it
uploads every segment PostgreSQL has marked ready (pg_wal/archive_status/<name>.ready), up to `upload_workers` at
a time. When PostgreSQL gets to a segment, its verdict is usually already there.

Each upload goes through archiver.push_checked, the rules of the one-process archiver: sha256 computed from the file,
"same bytes already archived" succeeds, different bytes are refused, the object is published atomically (a local
repository renames a fsynced temp file into place; an S3 PUT is all or nothing). A kill -9 mid-upload leaves no
object, or a complete one that the next attempt finds identical: a segment is never half-archived, never twice.

A failed upload of a requested segment gets an error verdict (archive_command exits non-zero, PostgreSQL retries
and asks again); a failed read-ahead is only retried after a pause, the request will come. SIGTERM/SIGINT stop it
after the uploads in flight have finished.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_spool import (
    Archived,
    ArchiveSpool,
    SourceIdentity,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver import push_checked
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

READY_SUFFIX = ".ready"
POLL_SECONDS = 0.005
IDLE_POLL_SECONDS = 0.05  # nothing to do: look less often (an idle host), back to POLL_SECONDS on the next request
READ_AHEAD_RETRY_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 600.0
VERDICT_MAX_AGE_SECONDS = 3600.0


@dataclass
class UploaderStats:
    uploaded: int = 0
    already_archived: int = 0
    failed: int = 0
    read_ahead: int = 0


def hold_lock(spool: ArchiveSpool) -> IO[str]:
    """Block until this process is the one uploader of the spool; the lock lives as long as the handle."""
    handle = open(spool.lock_path, "a", encoding="ascii")  # noqa: SIM115 - held for the life of the process
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


@dataclass
class Uploader:
    spool: ArchiveSpool
    open_repository: Callable[[], Repository]
    workers: int = 4
    log: Callable[[str], None] = lambda _message: None
    stats: UploaderStats = field(default_factory=UploaderStats)
    _pg_wal: set[Path] = field(default_factory=set)
    _failed_at: dict[str, float] = field(default_factory=dict)
    # Archived here lately: PostgreSQL renames <name>.ready to .done only after archive_command has exited, so
    # until then a scan still finds it ready. Read-ahead skips these; a request for one is always served.
    _archived_at: dict[str, float] = field(default_factory=dict)

    def run(self, stop: threading.Event) -> UploaderStats:
        self.spool.create()
        with hold_lock(self.spool):
            self.log(f"uploader {os.getpid()} started, {self.workers} uploads in flight at most")
            repo = self.open_repository()  # one client for every thread: boto3 clients are thread-safe
            in_flight: dict[str, Future[None]] = {}
            next_prune = 0.0
            interval = POLL_SECONDS
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dbops-wal-upload") as pool:
                while not stop.is_set():
                    for name in [name for name, future in in_flight.items() if future.done()]:
                        in_flight.pop(name)
                    wanted = self._wanted(set(in_flight))
                    for name, source in wanted:
                        in_flight[name] = pool.submit(self._archive, repo, name, source)
                    interval = POLL_SECONDS if wanted or in_flight else min(interval * 2, IDLE_POLL_SECONDS)
                    if time.monotonic() >= next_prune:
                        self.spool.prune(VERDICT_MAX_AGE_SECONDS)
                        self._forget(time.monotonic() - PRUNE_EVERY_SECONDS)
                        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    stop.wait(interval)
            self.log(f"uploader stopped: {self.stats}")
        return self.stats

    def _wanted(self, busy: set[str]) -> list[tuple[str, Path]]:
        """What to start now: requested segments first (oldest first), then ready ones ahead, up to the workers."""
        free = self.workers - len(busy)
        if free <= 0:
            return []
        requests = self.spool.requests()
        chosen = [(name, Path(source)) for name, source in sorted(requests.items())
                  if name not in busy and not self.spool.has_verdict(name)][:free]
        self._pg_wal.update(Path(source).parent for source in requests.values())
        if len(chosen) < free:
            now = time.monotonic()
            taken = busy | {name for name, _source in chosen}
            for name, source in self._ready_segments():
                if len(chosen) >= free:
                    break
                recently = max(self._failed_at.get(name, -READ_AHEAD_RETRY_SECONDS),
                               self._archived_at.get(name, -READ_AHEAD_RETRY_SECONDS))
                if name in taken or now - recently < READ_AHEAD_RETRY_SECONDS or self.spool.has_verdict(name):
                    continue
                chosen.append((name, source))
                self.stats.read_ahead += 1
        return chosen

    def _forget(self, before: float) -> None:
        for memory in (self._failed_at, self._archived_at):
            for name in [name for name, moment in list(memory.items()) if moment < before]:
                memory.pop(name, None)

    def _ready_segments(self) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        for pg_wal in self._pg_wal:
            try:
                entries = os.listdir(pg_wal / "archive_status")
            except OSError:
                continue
            found.extend((entry[:-len(READY_SUFFIX)], pg_wal / entry[:-len(READY_SUFFIX)])
                         for entry in entries if entry.endswith(READY_SUFFIX))
        # PostgreSQL archives oldest first (segment names sort by timeline, then position): so do we.
        return sorted(found)

    def _archive(self, repo: Repository, name: str, source: Path) -> None:
        requested = name in self.spool.requests()
        try:
            identity = SourceIdentity.of(str(source))
            outcome = push_checked(repo, source, name)
            if SourceIdentity.of(str(source)) != identity:
                raise OSError(f"{source} changed while it was archived")
        except Exception as exc:  # noqa: BLE001 - every failure becomes the segment's verdict, the loop goes on
            self._failed_at[name] = time.monotonic()
            self.stats.failed += 1
            self.log(f"archiving {name} failed: {exc}")
            if requested or name in self.spool.requests():
                self.spool.record_error(name, f"archiving {name} failed: {exc}")
            return
        self._failed_at.pop(name, None)
        self._archived_at[name] = time.monotonic()
        if outcome.result == "stored":
            self.stats.uploaded += 1
        else:
            self.stats.already_archived += 1
        self.spool.record_ok(Archived(name, outcome.sha256, outcome.size, identity))

"""Continuous capture of a database's changes into the repository's change archive (see archive.py).

Source, decided from the server (topology.py), never assumed:
- "oplog": a tailable, awaitData cursor on local.oplog.rs, opened once at the resume point and then only fed with
  getMore (re-querying the oplog by ts scans all of it on SecantusDB);
- "change_stream": a change stream on the database with its resume token (mongos, or no read access to local).

Crash safety comes from the archive itself: the resume point is the end of the newest committed chunk (a chunk is
committed when its catalog entry is written, after its data), so after kill -9 the capture starts again exactly where
the last committed chunk ended: the entries of the lost in-memory buffer are read again, nothing is skipped, nothing
is stored twice. Before resuming, the oldest oplog entry is compared with the resume point: SecantusDB silently
starts a change stream at its oldest entry when asked for an older one, so a gap is detected here, not at restore.

Coverage: a getMore that comes back empty after the server reported cluster time N proves that every change up to N
has been seen, so on an idle server the checkpoint still advances, and flush_until(T) (used by recovery points)
returns once the archive is known to contain everything up to T.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import change_archive as archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import (
    dump_records,
    require_database_name,
    resolve_repository,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.topology import detect_topology
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    DOC_CODEC,
    RAW_CODEC,
    bson,
    pymongo_errors,
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connect_tz_aware as connect,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.change_events import event_to_oplog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.namespace import belongs_to_database
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    aware,
    iso,
    parse_target,
    ts_from_dict,
    ts_text,
    ts_to_dict,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.topology import oplog_edge
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

START_HINT = ("run `ansible-playbook playbooks/wal_archiving.yml` with the MongoDB variables (dbops_mongodb_uri, "
              "dbops_mongodb_database, dbops_repository): it installs and starts the change capture service; "
              "`sevenp.dbops.change_capture state=status` and `backup_info` report its health")
NO_CAPTURE_GRACE_S = 15.0
CHANGE_STREAM_HISTORY_LOST = {286, 280, 136}  # ChangeStreamHistoryLost, ChangeStreamFatalError, CappedPositionLost
CURSOR_GONE = {43, 237, 175}  # CursorNotFound, CursorKilled, QueryPlanKilled


class CaptureHistoryLost(BackupError):
    """The changes right after the resume point are no longer on the server: the archive would have a gap."""


@dataclass
class CaptureStats:
    database: str
    mode: str
    resumed_from: dict[str, int] | None = None
    resumed: bool = False
    chunks_written: int = 0
    entries_written: int = 0
    covered_until: dict[str, int] | None = None
    covered_wall: str | None = None
    stopped_because: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Buffered:
    ts: Any
    wall: Any
    raw: bytes
    token: Any = None


class ChangeCapture:
    """Captures the changes of one database into a repository until stopped.

    start_at applies only when the archive of this database is empty: a Timestamp / "<s>.<i>" / recovery-point dict,
    "latest_dump" (the newest dump's consistency point; the default, falling back to "now" when there is none) or
    "now". Once chunks exist the capture always resumes where they end.
    """

    def __init__(self, uri: str, repository: Repository | str, database: str, *, mode: str = "auto",
                 start_at: Any = "latest_dump", chunk_max_entries: int = 5000, chunk_max_bytes: int = 8 << 20,
                 flush_interval_s: float = 1.0, await_ms: int = 500, checkpoint_interval_s: float = 1.0,
                 client=None, log: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        require_driver()
        self.uri = uri
        self.repo = resolve_repository(repository)
        self.database = require_database_name(database)
        self.requested_mode = mode
        self.start_at = start_at
        self.chunk_max_entries = chunk_max_entries
        self.chunk_max_bytes = chunk_max_bytes
        self.flush_interval_s = flush_interval_s
        self.await_ms = await_ms
        self.checkpoint_interval_s = checkpoint_interval_s
        self._client = client
        self._own_client = client is None
        self._log = log or (lambda event, data: None)
        # state
        self.mode = ""
        # end of the newest committed chunk (or the start point): where the next chunk starts
        self.chain_end: bson.Timestamp | None = None
        self.chain_end_wall: datetime | None = None
        self.position: bson.Timestamp | None = None  # every change up to here has been read (buffered or committed)
        self.position_wall: datetime | None = None
        self.buffer: list[_Buffered] = []
        self.buffer_bytes = 0
        self.buffer_since = 0.0
        self.token = None
        self.seen_at_position = 0  # entries already taken whose ts equals position
        self.skip_at_position = 0
        # the open cursor's entries up to here were read by a bounded query instead
        self.tail_floor: bson.Timestamp | None = None
        # resuming is safe while the oldest oplog entry is not after this
        self.history_point: bson.Timestamp | None = None
        self.fresh = False  # the archive of this database was empty: record where it starts once it is safe
        self.last_checkpoint: bson.Timestamp | None = None
        self.last_checkpoint_at = 0.0
        self.stats = CaptureStats(database=database, mode="")

    # ------------------------------------------------------------------------------------------------ public
    def run(self, stop_event: threading.Event | None = None, *, until: Any = None,
            max_seconds: float | None = None) -> CaptureStats:
        """Capture until stop_event is set, the archive covers until (a cluster time), or max_seconds pass."""
        stop_event = stop_event or threading.Event()
        until_ts = parse_target(until).cluster_time if until is not None else None
        deadline = time.monotonic() + max_seconds if max_seconds else None
        client = self._client or connect(self.uri)
        self._client = client
        try:
            topo = detect_topology(client)
            self.mode = self._choose_mode(topo)
            self.stats.mode = self.mode
            self._resume(client, topo)
            runner = self._run_oplog if self.mode == "oplog" else self._run_change_stream

            def should_stop() -> str:
                if stop_event.is_set():
                    return "stop requested"
                if until_ts is not None and not self.buffer and self.position is not None \
                        and self.position >= until_ts:
                    return f"archive covers {ts_text(until_ts)}"
                if deadline is not None and time.monotonic() > deadline:
                    return "time limit"
                return ""

            self.stats.stopped_because = runner(client, topo, should_stop)
            self._flush(idle=True)
            self._checkpoint(force=True)
        finally:
            if self._own_client:
                client.close()
                self._client = None
        self.stats.covered_until = ts_to_dict(self.position)
        self.stats.covered_wall = iso(self.position_wall)
        return self.stats

    # ------------------------------------------------------------------------------------------ resume point
    def _choose_mode(self, topo) -> str:
        if self.requested_mode not in ("auto", "oplog", "change_stream"):
            raise BackupError(f"unknown capture mode {self.requested_mode!r}: use auto, oplog or change_stream")
        available = topo.capture_mode
        if available is None:
            raise BackupError(
                f"cannot capture changes of {self.database}: the server is {topo.kind} (no oplog, no change streams); "
                "continuous capture needs a replica set"
            )
        if self.requested_mode == "auto":
            return available
        if self.requested_mode == "oplog" and not topo.oplog_readable:
            raise BackupError("local.oplog.rs is not readable on this server; use capture mode change_stream or auto")
        return self.requested_mode

    def _resume(self, client, topo) -> None:
        chunks = archive.list_chunks(self.repo, self.database)
        checkpoint = archive.read_checkpoint(self.repo, self.database)
        if chunks:
            newest = max(chunks, key=lambda c: (c.end, c.start))
            self.chain_end, self.position, self.position_wall = newest.end, newest.end, newest.end_wall
            self.chain_end_wall = newest.end_wall
            self.token = newest.resume_token if newest.mode == self.mode else None
            self.stats.resumed = True
        elif checkpoint is not None:
            self.chain_end = checkpoint.chain_end
            self.position, self.position_wall = checkpoint.chain_end, None
            self.stats.resumed = True
        else:
            self.chain_end = self.position = self._fresh_start(client)
            self.position_wall = None
        history_point = self.position
        if checkpoint is not None and checkpoint.chain_end == self.chain_end and \
                checkpoint.covered_until > history_point:
            history_point = checkpoint.covered_until  # nothing of ours happened in between: it was idle coverage
        self.history_point = history_point
        self.stats.resumed_from = ts_to_dict(self.position)
        self.fresh = not chunks and checkpoint is None
        self._log("capture_resume", {"database": self.database, "mode": self.mode, "from": ts_text(self.position),
                                     "resumed": self.stats.resumed})

    def _fresh_start(self, client):
        start_at = self.start_at
        if start_at in (None, "latest_dump"):
            dumps = [d for d in dump_records(self.repo, self.database) if d.cluster_time]
            if dumps:
                return ts_from_dict(dumps[-1].cluster_time)
            start_at = "now"
        if start_at == "now":
            now = client.admin.command("hello")["$clusterTime"]["clusterTime"]
            newest = (oplog_edge(client, oldest=False) or {}).get("ts") if self.mode == "oplog" else None
            # Nothing happened between the newest oplog entry and now, so the archive may start there. It must: a
            # dump taken later on an idle server is consistent as of that entry, while hello's cluster time (a
            # clock that also moves without writes) can be after it and would leave the dump's start uncovered.
            return newest if newest is not None and newest <= now else now
        target = parse_target(start_at)
        if target.cluster_time is None:
            raise BackupError(f"capture start_at must be a cluster time, 'now' or 'latest_dump', not {start_at!r}")
        return target.cluster_time

    def _check_history(self, client, topo, resume_point) -> None:
        if not topo.oplog_readable:
            return  # the server raises ChangeStreamHistoryLost itself; handled where the stream is read
        first = (oplog_edge(client, oldest=True) or {}).get("ts")
        if first is not None and first > resume_point:
            raise CaptureHistoryLost(
                f"cannot resume the change capture of {self.database} at {ts_text(resume_point)}: the oldest oplog "
                f"entry is {ts_text(first)}, so the changes in between are gone and the archive would have a gap. "
                "Take a new dump and start the capture from it (start_at: latest_dump); point-in-time recovery "
                "between the last archived change and that dump is not possible"
            )

    # --------------------------------------------------------------------------------------------- oplog tail
    def _run_oplog(self, client, topo, should_stop: Callable[[], str]) -> str:
        local = client.local
        with client.start_session(causal_consistency=False) as session:
            cursor_id = self._open_tail(local, session)
            # checked once the cursor is open, so that pruning cannot slip in between check and open
            self._check_history(client, topo, self.history_point)
            self._record_start()
            batch: list[Any] = []
            probe = None
            while True:
                reason = should_stop()
                if reason:
                    return reason
                if batch:
                    for raw in batch:
                        self._take_oplog_entry(raw, from_tail=True)
                    probe = None
                elif probe is not None:
                    self._advance_idle(probe)
                self._flush(idle=not batch)
                self._checkpoint()
                if not batch:
                    probe = self._server_time(client)
                try:
                    if not cursor_id:
                        time.sleep(self.await_ms / 1000)
                        cursor_id, batch, probe = self._open_tail(local, session), [], None
                        continue
                    reply = local.command({"getMore": cursor_id, "collection": "oplog.rs",
                                           "maxTimeMS": self.await_ms, "batchSize": 1000},
                                          codec_options=RAW_CODEC, session=session)
                    cursor_id, batch = reply["cursor"]["id"], list(reply["cursor"]["nextBatch"])
                except pymongo_errors.OperationFailure as exc:
                    if exc.code not in CURSOR_GONE:
                        raise
                    cursor_id, batch, probe = 0, [], None
                except pymongo_errors.AutoReconnect as exc:
                    self._log("capture_reconnect", {"error": str(exc)})
                    time.sleep(1.0)
                    cursor_id, batch, probe = 0, [], None

    def _open_tail(self, local, session) -> int:
        """Open the tailable cursor at position, take its first batch, and close the gap it may leave.

        SecantusDB 0.7 anchors a tailable oplog cursor at the newest entry when the cursor is registered, after the
        initial scan: entries written in between are in neither the first batch nor any getMore. So once the cursor
        is open, everything after what was taken is read once more with a plain query, and the tail's own entries up
        to the newest one that query returned are ignored. Harmless on mongod, where the tail delivers the same
        entries. (Every query of SecantusDB's oplog reads all of it: a cursor open costs two such reads.)
        """
        # Several entries can share one ts (SecantusDB logs a transaction's writes that way). Reading again from the
        # middle of such a group starts at its ts and skips the members already taken.
        reply = local.command({"find": "oplog.rs", "filter": {"ts": self._after_position()}, "tailable": True,
                               "awaitData": True, "batchSize": 1000}, codec_options=RAW_CODEC, session=session)
        for raw in reply["cursor"]["firstBatch"]:
            self._take_oplog_entry(raw)
        self.tail_floor = None
        newest = None
        oplog = local.get_collection("oplog.rs", codec_options=RAW_CODEC)
        for raw in oplog.find({"ts": self._after_position()}, session=session, batch_size=1000):
            self._take_oplog_entry(raw)
            newest = raw["ts"]
        self.tail_floor = newest
        return reply["cursor"]["id"]

    def _after_position(self) -> dict[str, Any]:
        """The ts filter for "after what was taken"; sets up skipping the taken members of a same-ts group."""
        self.skip_at_position = self.seen_at_position
        return {"$gte": self.position} if self.seen_at_position else {"$gt": self.position}

    def _take_oplog_entry(self, raw, *, from_tail: bool = False) -> None:
        ts = raw["ts"]
        if ts < self.position or (from_tail and self.tail_floor is not None and ts <= self.tail_floor):
            return
        if ts == self.position and self.skip_at_position:
            self.skip_at_position -= 1
            return
        self.seen_at_position = self.seen_at_position + 1 if ts == self.position else 1
        wall = raw.get("wall")
        if belongs_to_database(raw, self.database):
            self._buffer(_Buffered(ts, wall, raw.raw))
        self.position, self.position_wall = ts, aware(wall) if wall else self.position_wall

    # ------------------------------------------------------------------------------------------ change stream
    def _run_change_stream(self, client, topo, should_stop: Callable[[], str]) -> str:
        db = client[self.database]
        self._check_history(client, topo, self.history_point)
        stream = self._open_stream(db)
        self._record_start()
        probe = None
        try:
            while True:
                reason = should_stop()
                if reason:
                    return reason
                try:
                    event = stream.try_next()
                except pymongo_errors.OperationFailure as exc:
                    if exc.code in CHANGE_STREAM_HISTORY_LOST:
                        raise CaptureHistoryLost(
                            f"cannot resume the change stream of {self.database} at {ts_text(self.position)}: "
                            f"{exc}. Take a new dump and start the capture from it") from exc
                    raise
                if event is None:
                    if probe is not None:
                        self._advance_idle(probe)
                    self._flush(idle=True)
                    self._checkpoint()
                    probe = self._server_time(client)
                    continue
                probe = None
                self._take_event(event, stream.resume_token)
                if event.get("operationType") == "invalidate":
                    stream.close()
                    stream = self._open_stream(db, start_after=stream.resume_token)
                self._flush(idle=False)
        finally:
            stream.close()

    def _open_stream(self, db, start_after=None):
        options: dict[str, Any] = {"max_await_time_ms": self.await_ms, "batch_size": 1000}
        if start_after is not None:
            options["start_after"] = start_after
        elif self.token is not None:
            options["resume_after"] = self.token
        else:
            options["start_at_operation_time"] = self.position
        try:
            return db.watch(show_expanded_events=True, **options)
        except pymongo_errors.OperationFailure as exc:
            if exc.code in CHANGE_STREAM_HISTORY_LOST:
                raise CaptureHistoryLost(f"cannot open the change stream of {self.database} at "
                                         f"{ts_text(self.position)}: {exc}") from exc
            return db.watch(**options)  # servers before 6.0 do not know showExpandedEvents

    def _take_event(self, event: dict[str, Any], token) -> None:
        ts = event.get("clusterTime")
        if ts is None or ts <= self.chain_end:
            return
        wall = event.get("wallTime")
        entry = event_to_oplog(event)
        if entry is not None and (entry.get("ns") or "").startswith(self.database + "."):
            self._buffer(_Buffered(ts, wall, bson.encode(entry, codec_options=DOC_CODEC), token))
        if self.position is None or ts > self.position:
            self.position, self.position_wall = ts, aware(wall) if wall else self.position_wall
        self.token = token

    # ---------------------------------------------------------------------------------------- chunks, coverage
    def _record_start(self) -> None:
        """The first checkpoint of a new archive says where it starts (nothing was buffered yet that is ours to lose:
        the buffer is committed before any later checkpoint)."""
        if self.fresh:
            archive.write_checkpoint(self.repo, archive.Checkpoint(
                database=self.database, covered_until=self.chain_end, covered_wall=None, chain_end=self.chain_end,
                mode=self.mode, updated_at=iso(utc_now()), writer={"host": socket.gethostname(), "pid": os.getpid()},
            ))
            self.fresh = False

    def _server_time(self, client) -> tuple[Any, Any]:
        hello = client.admin.command("hello")
        return hello["$clusterTime"]["clusterTime"], aware(hello["localTime"])

    def _advance_idle(self, probe) -> None:
        cluster_time, wall = probe
        if self.position is None or cluster_time > self.position:
            self.position, self.position_wall = cluster_time, wall
            self.seen_at_position = 0

    def _buffer(self, item: _Buffered) -> None:
        if not self.buffer:
            self.buffer_since = time.monotonic()
        self.buffer.append(item)
        self.buffer_bytes += len(item.raw)

    def _flush(self, *, idle: bool) -> None:
        if not self.buffer:
            return
        full = len(self.buffer) >= self.chunk_max_entries or self.buffer_bytes >= self.chunk_max_bytes
        old = time.monotonic() - self.buffer_since >= self.flush_interval_s
        if not (idle or full or old):
            return
        take = len(self.buffer)
        end = self.position if idle else self.buffer[-1].ts
        if not idle:
            # Entries that share a ts (a transaction's writes, in change events and in SecantusDB's oplog) stay in
            # one chunk: a chunk holds the entries start < ts <= end, so a group cut in two would break that.
            last_ts = self.buffer[-1].ts
            split = take
            while split > 0 and self.buffer[split - 1].ts == last_ts:
                split -= 1
            if split > 0:
                take, end = split, self.buffer[split - 1].ts
        items = self.buffer[:take]
        end_wall = self.position_wall if end == self.position else _wall(items[-1].wall)
        chunk = archive.write_chunk(
            self.repo, self.database, self.chain_end, end, [item.raw for item in items],
            first_ts=items[0].ts, last_ts=items[-1].ts, start_wall=None, end_wall=end_wall, mode=self.mode,
            resume_token=items[-1].token,
        )
        self.chain_end, self.chain_end_wall = end, end_wall
        self.buffer = self.buffer[take:]
        self.buffer_bytes = sum(len(item.raw) for item in self.buffer)
        self.buffer_since = time.monotonic()
        self.stats.chunks_written += 1
        self.stats.entries_written += len(items)
        self._log("capture_chunk", {"database": self.database, "range": chunk.range_id, "entries": len(items)})
        self._checkpoint(force=True)

    def _checkpoint(self, *, force: bool = False) -> None:
        """Record how far the archive reaches, claiming only what is committed.

        With nothing buffered, every change up to position is stored (ours in chunks, the rest not ours); with
        changes buffered (a continuous write load always has some), only the end of the newest chunk is.
        """
        covered, wall = (self.chain_end, self.chain_end_wall) if self.buffer else (self.position, self.position_wall)
        if covered is None or (self.last_checkpoint is not None and covered <= self.last_checkpoint):
            return
        if not force and time.monotonic() - self.last_checkpoint_at < self.checkpoint_interval_s:
            return
        archive.write_checkpoint(self.repo, archive.Checkpoint(
            database=self.database, covered_until=covered, covered_wall=wall,
            chain_end=self.chain_end, mode=self.mode, updated_at=iso(utc_now()),
            writer={"host": socket.gethostname(), "pid": os.getpid()},
        ))
        self.last_checkpoint, self.last_checkpoint_at = covered, time.monotonic()


def _wall(value) -> Any:
    return aware(value) if value is not None else None


# -------------------------------------------------------------------------------------------------- waiting


def archive_reach(repository: Repository | str, database: str):
    """The archive's checkpoint (how far capture has archived the database), or None before capture ever ran."""
    return archive.read_checkpoint(resolve_repository(repository), database)


def flush_until(repository: Repository | str, database: str, cluster_time: Any, *, timeout_s: float = 60.0,
                poll_s: float = 0.2) -> archive.Checkpoint:
    """Wait until the change archive of database contains every change up to cluster_time; return the checkpoint.

    cluster_time: a Timestamp, "<s>.<i>", {"t", "i"} or a recovery point's mongodb record. Raises BackupError naming
    how far the archive got when the capture does not get there within timeout_s (is it running?).
    """
    require_driver()
    repo = resolve_repository(repository)
    target = parse_target(cluster_time).cluster_time
    if target is None:
        raise BackupError("flush_until needs a cluster time, not a wall-clock time")
    started = time.monotonic()
    deadline = started + timeout_s
    checkpoint = None
    while True:
        checkpoint = archive.read_checkpoint(repo, database)
        if checkpoint is not None and checkpoint.covered_until >= target:
            return checkpoint
        now = time.monotonic()
        # No checkpoint at all: no capture has ever run for this database; a just-started one writes its first
        # within seconds, so the full timeout is not waited for.
        if now >= deadline or (checkpoint is None and now - started >= min(timeout_s, NO_CAPTURE_GRACE_S)):
            reached = ts_text(checkpoint.covered_until) if checkpoint else "nothing (no capture has run)"
            updated = f", last checkpoint written {checkpoint.updated_at}" if checkpoint else ""
            raise BackupError(
                f"the change archive of {database} in {repo.describe()} did not reach {ts_text(target)} within "
                f"{now - started:.0f}s: it covers up to {reached}{updated}; is the change capture running? "
                f"To start it, {START_HINT}"
            )
        time.sleep(poll_s)


def capture_status(repository: Repository | str, database: str) -> dict[str, Any]:
    """The archive of database at a glance: chunks, where it starts and ends, gaps, the checkpoint."""
    repo = resolve_repository(repository)
    chunks = archive.list_chunks(repo, database)
    checkpoint = archive.read_checkpoint(repo, database)
    gaps = [{"after": ts_to_dict(a.end), "next_start": ts_to_dict(b.start)}
            for a, b in zip(chunks, chunks[1:], strict=False) if b.start > a.end]
    begin = chunks[0].start if chunks else (checkpoint.chain_end if checkpoint else None)
    reach = archive.coverage_from(chunks, begin, checkpoint) if begin is not None else None
    return {
        "database": database, "chunks": len(chunks), "entries": sum(c.count for c in chunks),
        "begin": ts_to_dict(begin), "end": ts_to_dict(reach.end) if reach else None,
        "end_wall": iso(reach.end_wall) if reach else None, "gaps": gaps,
        "checkpoint": None if checkpoint is None else {
            "covered_until": ts_to_dict(checkpoint.covered_until), "updated_at": checkpoint.updated_at,
            "writer": checkpoint.writer, "mode": checkpoint.mode,
        },
    }

"""The tail: the source database's change stream applied to the target, in order, resumable from its token.

Events are applied in batches (batch_apply.py, idempotent: an insert or a replace is a replace-upsert by _id, an
update its updateDescription's $set/$unset, a delete deletes; create, drop, rename, collMod and index events are
replayed as their commands through the engine's one replay path, oplog/apply.py).
The state document (applied, resume_token) is written when the stream has nothing more buffered, or after
``batch_max`` events or ``flush_seconds``, or at once after an event of a barrier collection (the cutover's fence
token: the switch waits for it, with the writes stopped), with the LAST APPLIED event's clusterTime and token: never
ahead of the data. After a crash the copy resumes from that token; the events applied after it are applied again,
which changes nothing.

While idle, the position follows the stream's postBatchResumeToken (resume_token.py), so a copy of a quiet
database still reaches the source's newest cluster time. Before each (re)start the resume point is checked against
the source's oldest oplog entry (gap_check.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import FENCE_COLLECTION
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy import state_writer
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.batch_apply import BatchApplier
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyGapDetected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.gap_check import check_gap
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.resume_token import token_cluster_time
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    newest_cluster_time,
    position_of,
    position_text,
)

Log = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class TailSettings:
    batch_max: int = 500
    await_ms: int = 100  # how long an idle getMore waits: also the longest the state document trails the data
    heartbeat_seconds: float = 1.0
    flush_seconds: float = 0.5  # longest the state document trails applied data while events keep coming
    # Someone waits for these writes to be applied (the switch, for its fence token): flushed without waiting for
    # the stream to run dry, which takes an idle getMore (await_ms).
    barrier_collections: tuple[str, ...] = (FENCE_COLLECTION,)


@dataclass
class TailStats:
    events: int = 0
    batches: int = 0
    applied: str | None = None


@dataclass
class _Position:
    applied: Any
    token: Any
    start_after: bool = False  # after an invalidate event a stream must be reopened with startAfter


class CopyTail:
    def __init__(self, source_client: Any, target_client: Any, database: str, *,
                 settings: TailSettings | None = None, log: Log | None = None) -> None:
        self.source = source_client
        self.target = target_client
        self.database = database
        self.settings = settings or TailSettings()
        self.log: Log = log or (lambda _event, _data: None)
        self.applier = BatchApplier(target_client, database, source_client)
        self.stats = TailStats()

    def run(self, stop: threading.Event, applied: Any, resume_token: Any, *,
            max_seconds: float | None = None) -> TailStats:
        """Follow the source until stop is set (or max_seconds pass); raises CopyGapDetected before a hole."""
        position = _Position(applied, resume_token)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        queries: list[str] = []
        while not stop.is_set() and not _past(deadline):
            gap = check_gap(self.source, self.database, position.applied, queries)
            if gap is not None:
                raise CopyGapDetected(gap)
            self._follow(position, stop, deadline)
        return self.stats

    def _stream_options(self, position: _Position) -> dict[str, Any]:
        options: dict[str, Any] = {"show_expanded_events": True, "max_await_time_ms": self.settings.await_ms,
                                   "batch_size": self.settings.batch_max}
        if position.token is not None:
            options["start_after" if position.start_after else "resume_after"] = position.token
        else:
            # Inclusive: an event at exactly `applied` is applied again, which changes nothing.
            options["start_at_operation_time"] = position.applied
        return options

    def _follow(self, position: _Position, stop: threading.Event, deadline: float | None) -> None:
        pending = 0
        last_beat = time.monotonic()
        self.log("copy_stream_open", {"applied": _text(position.applied), "token": position.token is not None})
        with self.source[self.database].watch(**self._stream_options(position)) as stream:
            idle_mark = None  # the source's newest write, read before the poll (only while idle)
            while not stop.is_set() and not _past(deadline):
                event = stream.try_next()
                invalidated = event is not None and event.get("operationType") == "invalidate"
                if event is not None and not invalidated:
                    self.applier.add(event)
                    position.applied, position.token, position.start_after = event["clusterTime"], event["_id"], False
                    pending += 1
                    self.stats.events += 1
                    # Under a steady stream of writes the buffer never runs dry: flush by count and by time too.
                    if pending < self.settings.batch_max and not self._barrier(event) and \
                            time.monotonic() - last_beat < self.settings.flush_seconds:
                        continue
                if pending:
                    self._flush(position, pending)
                    pending, last_beat = 0, time.monotonic()
                if invalidated:  # the database was dropped: the stream ends, a new one starts after it
                    position.applied, position.token, position.start_after = event["clusterTime"], event["_id"], True
                    self.log("copy_stream_invalidated", {"at": _text(position.applied)})
                    return
                if event is None and (self._advance_idle(position, stream.resume_token)
                                      or self._advance_to_mark(position, idle_mark)):
                    last_beat = time.monotonic()
                elif time.monotonic() - last_beat >= self.settings.heartbeat_seconds:
                    state_writer.record_heartbeat(self.target, self.database)
                    last_beat = time.monotonic()
                idle_mark = self._newest_source_write() if event is None and not pending else None
        if pending:
            self._flush(position, pending)

    def _barrier(self, event: dict[str, Any]) -> bool:
        return (event.get("ns") or {}).get("coll") in self.settings.barrier_collections

    def _advance_idle(self, position: _Position, token: Any) -> bool:
        """Nothing buffered and every event applied: move to the stream's postBatchResumeToken when it is ahead.

        The server has scanned its oplog up to that token and found nothing more for the database, so the target
        is the source's database as of its cluster time: recording it is never ahead of the data.
        """
        stamp = token_cluster_time(token)
        if stamp is None or token is None or position_of(stamp) <= position_of(position.applied):
            return False
        position.applied, position.token, position.start_after = stamp, token, False
        state_writer.record_batch(self.target, self.database, stamp, token)
        self.stats.applied = _text(stamp)
        return True

    def _newest_source_write(self) -> Any:
        """The source's newest write (hello), or None when it cannot be read (the stream then says the rest)."""
        try:
            return newest_cluster_time(self.source.admin.command("hello"))
        except Exception:  # noqa: BLE001 - only an optimisation of an idle copy's position
            return None

    def _advance_to_mark(self, position: _Position, mark: Any) -> bool:
        """Idle, and the stream's token did not move (a server that does not advance it for other databases'
        writes): the source's newest write read before the poll that came back empty. Every change of the database
        up to it is in the oplog, and that poll scanned the oplog past it and found nothing, so the target is the
        source's database as of that time. The token stays: a restart resumes from it, and finds nothing more."""
        if mark is None or position_of(mark) <= position_of(position.applied):
            return False
        position.applied = mark
        state_writer.record_batch(self.target, self.database, mark, position.token)
        self.stats.applied = _text(mark)
        return True

    def _flush(self, position: _Position, count: int) -> None:
        self.applier.flush()  # the data first, then the state that claims it
        state_writer.record_batch(self.target, self.database, position.applied, position.token)
        self.stats.batches += 1
        self.stats.applied = _text(position.applied)
        self.log("copy_applied", {"events": count, "applied": self.stats.applied})


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _text(timestamp: Any) -> str | None:
    return position_text(position_of(timestamp)) if timestamp is not None else None

"""When the next backfill batch may start: a pause in proportion to the last batch, longer when the batch made
other sessions wait too long for its row locks, and none at all while a replica is too far behind.

The backfill competes with the application for CPU, WAL bandwidth and row locks. A pause of a fraction of each
batch's time leaves the server a share of idle time (a duty cycle), whatever the batch size. An application
writing the rows of a batch in flight waits for its commit: at most the batch's duration, which the batch time
already bounds, so short waits are the expected price of that batch time and change nothing (reacting to every
one of them made batches on a busy table collapse to the minimum and pause for seconds). Sessions found waiting
longer than the tolerance mean the batch is too big for this table's traffic: the batch shrinks and a pause as
long as their wait follows, doubling while it keeps happening. Pure logic: the caller probes the server and sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PAUSE_RATIO = 0.25
DEFAULT_MAX_REPLICA_LAG_S = 2.0
MAX_LOCK_BACKOFF_S = 5.0
REPLICA_POLL_S = 0.5


@dataclass(frozen=True)
class ThrottleSettings:
    pause_ratio: float = DEFAULT_PAUSE_RATIO  # pause after each batch, as a fraction of the batch's time
    pause_s: float = 0.0  # a fixed pause added to it (the backfill's pause_ms)
    max_replica_lag_s: float | None = DEFAULT_MAX_REPLICA_LAG_S  # None: never wait for replicas
    lock_wait_tolerance_s: float = 0.0  # other sessions' waits on the batch's locks up to this long are let be


@dataclass(frozen=True)
class BatchSignals:
    """What the server said at the end of a batch, before its commit released the row locks."""

    blocked_sessions: int = 0  # other sessions waiting on a lock the batch held
    longest_block_s: float = 0.0
    replica_lag_s: float | None = None  # the largest replay lag of the streaming replicas; None: no replica


@dataclass(frozen=True)
class Pause:
    seconds: float
    shrink: bool = False  # make the next batch smaller
    reason: str = ""


class Throttle:
    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings
        self.lock_streak = 0  # batches in a row that blocked someone
        self.lock_backoffs = 0
        self.replica_waits = 0

    def after_batch(self, batch_s: float, signals: BatchSignals) -> Pause:
        base = self.settings.pause_s + self.settings.pause_ratio * batch_s
        if signals.blocked_sessions <= 0 or signals.longest_block_s <= self.settings.lock_wait_tolerance_s:
            self.lock_streak = 0
            return Pause(base)
        self.lock_streak += 1
        self.lock_backoffs += 1
        # As long as the others waited (doubling while it keeps happening): the application gets that time back
        # to work off the queue the batch made before the next batch starts. The smaller batch that follows is
        # what shortens the waits.
        backoff = min(MAX_LOCK_BACKOFF_S, signals.longest_block_s * 2 ** (self.lock_streak - 1))
        return Pause(max(base, backoff), shrink=True,
                     reason=f"{signals.blocked_sessions} session(s) waited up to "
                            f"{signals.longest_block_s * 1000:.0f} ms on the batch's locks")

    def replica_too_far_behind(self, lag_s: float | None) -> bool:
        limit = self.settings.max_replica_lag_s
        return limit is not None and lag_s is not None and lag_s > limit

    def replica_wait(self, lag_s: float | None) -> float:
        """Seconds to wait before probing the lag again; 0 when the replicas are close enough."""
        if not self.replica_too_far_behind(lag_s):
            return 0.0
        self.replica_waits += 1
        return REPLICA_POLL_S

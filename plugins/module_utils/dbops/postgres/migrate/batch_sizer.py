"""How many rows the next backfill batch takes, so that each batch lasts about a target time.

A row count that suits one table (narrow rows, few indexes, an idle server) locks another for seconds. Instead
the sizer measures how fast batches go and picks the row count that should take the target time: it starts
small, grows or shrinks by at most a bounded factor per batch, and follows a smoothed rate so one slow batch
(a checkpoint, a vacuum) does not halve the next one. Pure logic: the caller measures, the sizer decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

START_ROWS = 100
MIN_ROWS = 10
MAX_GROWTH = 2.0  # per batch: from 100 rows to 25,000 in 8 batches
MAX_SHRINK = 0.5
SMOOTHING = 0.3  # weight of the newest batch in the smoothed rows/s
# After the throttle shrank the batch (other sessions waited on its locks), the cap recovers by this factor per
# batch that blocked no one, so the size creeps back instead of jumping to where it hurt.
RECOVERY = 1.25


@dataclass
class BatchSizer:
    target_s: float
    max_rows: int
    min_rows: int = MIN_ROWS
    size: int = START_ROWS
    rate: float | None = None  # smoothed rows/s
    cap: float = field(default=1.0)  # 0 < cap <= 1: fraction of the rate-based size allowed after a shrink

    def __post_init__(self) -> None:
        self.min_rows = max(1, min(self.min_rows, self.max_rows))
        self.size = self._bounded(self.size)

    def _bounded(self, rows: float) -> int:
        return int(min(self.max_rows, max(self.min_rows, rows)))

    def observe(self, rows: int, seconds: float) -> int:
        """Account for a batch that handled `rows` keys in `seconds`; returns the next batch's size."""
        if rows > 0 and seconds > 0:
            measured = rows / seconds
            self.rate = measured if self.rate is None else SMOOTHING * measured + (1 - SMOOTHING) * self.rate
            wanted = self.rate * self.target_s * self.cap
            self.size = self._bounded(min(self.size * MAX_GROWTH, max(self.size * MAX_SHRINK, wanted)))
        return self.size

    def shrink(self) -> int:
        """Halve the batch and its cap (other sessions waited on the batch's locks, or it hit lock_timeout)."""
        self.cap = max(self.cap * MAX_SHRINK, 1 / 64)
        self.size = self._bounded(self.size * MAX_SHRINK)
        return self.size

    def recover(self) -> None:
        self.cap = min(1.0, self.cap * RECOVERY)


@dataclass
class FixedBatch:
    """The declared (or the run's) batch_size, every batch the same."""

    size: int

    def observe(self, rows: int, seconds: float) -> int:
        return self.size

    def shrink(self) -> int:
        return self.size

    def recover(self) -> None:
        return None

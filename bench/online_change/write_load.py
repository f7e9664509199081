"""The application writing to the table while its column type changes: pgbench (bench/backfill/pgbench_load's
runner, with this benchmark's own transaction), and the two figures read from its per-transaction logs (-l).

- p99 (and p50, max) latency of the transactions scheduled while the contender ran, as bench/backfill counts it:
  rate-limited (-R), so the time a transaction waits behind a lock counts from its scheduled start.
- The longest stall: the largest gap between two consecutive transaction ends, all clients together, from the
  moment the contender starts until shortly after it returns. It is the longest time during which no write
  committed at all, which is what "the ALTER blocks writers" means; the max latency is also shown (it is close
  to the stall when every client waited behind the same lock, and longer than it when a transaction also waited
  for its turn in the schedule).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bench.backfill.pgbench_load import LatencyStats, PgbenchLoad, PgbenchSettings
from bench.online_change.dataset import COLUMN, QUALIFIED

T = TypeVar("T")

# One transaction: +1 on a random existing row, and a new row (amount 0) with a random key far above the table's.
# Both the change and the new row are known exactly, so the table's count and sum show a lost write.
SCRIPT = (
    "\\set id random(1, :rows)\n"
    "\\set new_id random(:rows + 1, 4000000000000000000)\n"
    "BEGIN;\n"
    f"UPDATE {QUALIFIED} SET {COLUMN} = {COLUMN} + 1 WHERE id = :id;\n"
    f"INSERT INTO {QUALIFIED} (id, {COLUMN}, note) VALUES (:new_id, 0, 'new order');\n"
    "END;\n"
)
# After the contender returns, transactions that waited on it finish within this; a gap ending later is the load's.
AFTER_S = 1.0


@dataclass
class Stall:
    seconds: float  # the largest gap between consecutive transaction ends (or from the start to the first end)
    at_s: float  # when it began, seconds after the contender started


@dataclass
class WriteLoadFigures:
    latency: LatencyStats
    stall: Stall
    committed: int  # every transaction pgbench completed, in the window or not: the rows it inserted


def _ends(load: PgbenchLoad) -> list[float]:
    """End times (time.time() values) of every completed transaction, in order."""
    ends = []
    for log in load.work.glob("tx.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if fields[2] != "skipped":
                ends.append(int(fields[4]) + int(fields[5]) / 1e6)
    ends.sort()
    return ends


def longest_stall(ends: list[float], window_start: float, window_end: float) -> Stall:
    inside = [end for end in ends if window_start < end <= window_end + AFTER_S]
    longest = Stall(seconds=0.0, at_s=0.0)
    previous = window_start
    for end in inside:
        # A gap that opens after the contender returned is the load's own, not the contender's.
        if end - previous > longest.seconds and previous <= window_end:
            longest = Stall(seconds=end - previous, at_s=previous - window_start)
        previous = end
    # No commit at all after the last one until the window closed is a stall too.
    if window_end - previous > longest.seconds:
        longest = Stall(seconds=window_end - previous, at_s=previous - window_start)
    return longest


def measure(dsn: str, rows: int, settings: PgbenchSettings, action: Callable[[], T]) -> tuple[T, WriteLoadFigures]:
    """Run action() with the write load alongside; returns action's result and the load's figures during it."""
    load = PgbenchLoad(dsn, rows, settings, script=SCRIPT)
    load.start()
    try:
        window_start = time.time()
        result = action()
        window_end = time.time()
    finally:
        load.stop()
    ends = _ends(load)
    figures = WriteLoadFigures(latency=load.stats(window_start, window_end),
                               stall=longest_stall(ends, window_start, window_end), committed=len(ends))
    load.cleanup()
    return result, figures

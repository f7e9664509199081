"""The backfill loop with a fake connection and a fake clock: sizes follow the sizer, pauses the throttle."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import Backfill
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import backfill
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill_runner import (
    DEFAULT_BATCH_TIME_MS,
    MAX_ADAPTIVE_ROWS,
    pacing_for,
    sizing_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.batch_sizer import (
    BatchSizer,
    FixedBatch,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.throttle import (
    Throttle,
    ThrottleSettings,
)

ITEM = Backfill(name="b", table="t", key=("id",), set="x = 1")


def batch_rows(text: str) -> int:
    """The rows a batch's bound asks for: its OFFSET skips to the last of them."""
    return int(re.search(r"OFFSET (\d+)", text).group(1)) + 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeServer:
    """Answers the backfill's statements: a table of `rows` keys at `rows_per_s`; batches listed in
    `blocking` find a session waiting on their locks; `lags` are the replica lags the probes read."""

    def __init__(self, clock: FakeClock, rows: int, rows_per_s: float, blocking=(), lags=()) -> None:
        self.clock, self.left, self.rows_per_s = clock, rows, rows_per_s
        self.blocking, self.lags = set(blocking), list(lags)
        self.batch = 0
        self._result = None
        self._pending = 0
        self.rowcount = -1

    def transaction(self):
        server = self

        class Block:
            def __enter__(self):
                return server

            def __exit__(self, *exc):
                return False

        return Block()

    def pipeline(self):
        class Pipeline:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def sync(self):
                return None

        return Pipeline()

    def execute(self, query, params=None):
        text = query if isinstance(query, str) else query.as_string(None)
        self.rowcount = -1
        if "SELECT status, last_key" in text:
            self._result = None
        elif "pg_locks" in text:
            self._result = (1, 0.02, self._lag()) if self.batch in self.blocking else (0, 0.0, self._lag())
        elif "pg_stat_replication" in text:
            self._result = (self._lag(),)
        elif "OFFSET" in text:
            wanted = batch_rows(text)
            self._pending = wanted if wanted <= self.left else 0
            self._result = (str(self.batch + 1),) if self._pending else None
        elif "count(*)" in text:  # the last batch: fewer keys left than the bound asked for
            self._pending = self.left
            self._result = (str(self.batch + 1), self.left) if self.left else None
        elif text.startswith('UPDATE "t"'):
            self.left -= self._pending
            self.batch += 1
            self.clock.now += self._pending / self.rows_per_s
            self.rowcount = self._pending
        return self

    def _lag(self):
        return self.lags.pop(0) if self.lags else None

    def fetchone(self):
        return self._result


HALF = ThrottleSettings(pause_ratio=0.5)


def run(server: FakeServer, clock: FakeClock, pacing_sizer, settings: ThrottleSettings = HALF):
    pacing = backfill.Pacing(pacing_sizer, Throttle(settings), clock=clock, sleep=clock.sleep)
    return backfill.run_backfill(server, "1", ITEM, pacing=pacing, retry=lambda work, _on_retry: work(1))


def test_adaptive_batches_grow_to_the_target_time_and_pause_in_proportion():
    clock = FakeClock()
    server = FakeServer(clock, rows=200_000, rows_per_s=100_000)
    stats = run(server, clock, BatchSizer(target_s=0.1, max_rows=100_000))
    assert stats.rows == 200_000 and stats.sizes[0] == 100 and max(stats.sizes) == 10_000
    assert clock.slept[0] == 0.5 * 100 / 100_000  # pause_ratio times the batch's time
    assert stats.lock_backoffs == 0 and stats.replica_waits == 0


def test_a_batch_that_blocked_someone_is_followed_by_a_smaller_one_and_a_longer_pause():
    clock = FakeClock()
    server = FakeServer(clock, rows=100_000, rows_per_s=100_000, blocking={12})
    stats = run(server, clock, BatchSizer(target_s=0.1, max_rows=100_000), ThrottleSettings(pause_ratio=0.1))
    assert stats.lock_backoffs == 1
    assert stats.sizes[12] == stats.sizes[11] // 2
    assert clock.slept[11] == 0.02  # as long as the blocked session waited (more than 0.1 x the batch's time)
    assert clock.slept[10] == pytest.approx(0.1 * stats.sizes[10] / 100_000)


def test_replica_lag_above_the_limit_holds_the_next_batch_until_it_comes_down():
    clock = FakeClock()
    server = FakeServer(clock, rows=300, rows_per_s=1_000, lags=[5.0, 4.0, 3.0, 0.5])
    stats = run(server, clock, FixedBatch(100), ThrottleSettings(pause_ratio=0, max_replica_lag_s=1.0))
    # After the first batch the lag reads 5 s; the probes read 4 s and 3 s (wait again), then 0.5 s (go on).
    assert stats.replica_waits == 3 and clock.slept == [0.5, 0.5, 0.5] and stats.rows == 300


def options(batch_size: int | None) -> RunOptions:
    return RunOptions(run_id="r", check_mode=False, allow_destructive=False, allow_drift=False, lock_timeout_ms=1000,
                      ddl_retries=3, batch_size=batch_size, runner_lock_wait_s=1.0, on_partial="resume")


def test_pacing_a_row_count_alone_is_a_fixed_batch_a_batch_time_makes_it_a_cap():
    opts = options(None)
    default = pacing_for(ITEM, opts).sizer
    assert isinstance(default, BatchSizer)
    assert (default.target_s, default.max_rows) == (DEFAULT_BATCH_TIME_MS / 1000, MAX_ADAPTIVE_ROWS)
    fixed = Backfill(name="b", table="t", key=("id",), set="x = 1", batch_size=500)
    assert pacing_for(fixed, opts).sizer == FixedBatch(500)
    capped = Backfill(name="b", table="t", key=("id",), set="x = 1", batch_size=500, batch_time_ms=40)
    sizer = pacing_for(capped, opts).sizer
    assert isinstance(sizer, BatchSizer) and (sizer.target_s, sizer.max_rows) == (0.04, 500)
    assert "about 40 ms (at most 500 rows" in sizing_text(capped, opts)
    # Other sessions' waits on a batch up to half its target time are the expected price of that batch time.
    assert pacing_for(capped, opts).throttle.settings.lock_wait_tolerance_s == pytest.approx(0.02)
    assert pacing_for(fixed, opts).throttle.settings.lock_wait_tolerance_s == pytest.approx(
        DEFAULT_BATCH_TIME_MS / 2000)
    # The run's batch_size overrides every backfill's.
    assert pacing_for(capped, options(7)).sizer == FixedBatch(7)
    assert sizing_text(capped, options(7)) == "batches of 7 rows"

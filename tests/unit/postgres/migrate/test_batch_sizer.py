"""Batches sized by time: start small, grow and shrink by bounded factors, follow a smoothed rate."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.batch_sizer import (
    MAX_GROWTH,
    START_ROWS,
    BatchSizer,
    FixedBatch,
)


def drive(sizer: BatchSizer, rows_per_s: float, batches: int, overhead_s: float = 0.0) -> list[int]:
    """Feed the sizer batches from a fake server that handles rows_per_s (plus a fixed cost per statement)."""
    sizes = []
    for _round in range(batches):
        sizes.append(sizer.size)
        sizer.observe(sizer.size, overhead_s + sizer.size / rows_per_s)
    return sizes


def test_starts_small_and_grows_at_most_by_the_growth_factor():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    sizes = drive(sizer, rows_per_s=200_000, batches=12)
    assert sizes[0] == START_ROWS
    assert all(b <= a * MAX_GROWTH for a, b in zip(sizes, sizes[1:], strict=False))
    # 200,000 rows/s for 100 ms: 20,000 rows, reached within a few batches and held.
    assert all(abs(size - 20_000) <= 200 for size in sizes[-3:])


def test_converges_to_the_target_time_despite_a_fixed_cost_per_batch():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    drive(sizer, rows_per_s=100_000, batches=60, overhead_s=0.01)
    batch_s = 0.01 + sizer.size / 100_000
    assert 0.095 <= batch_s <= 0.105


def test_one_slow_batch_does_not_halve_the_next():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    drive(sizer, rows_per_s=100_000, batches=30)
    steady = sizer.size
    sizer.observe(steady, steady / 100_000 * 5)  # a checkpoint made one batch five times slower
    assert sizer.size > steady * 0.6


def test_follows_a_server_that_gets_slower_by_bounded_steps():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    drive(sizer, rows_per_s=200_000, batches=30)
    sizes = drive(sizer, rows_per_s=20_000, batches=30)
    assert all(b >= a * 0.5 for a, b in zip(sizes, sizes[1:], strict=False))
    assert abs(sizes[-1] - 2_000) <= 50


def test_bounds_are_kept():
    sizer = BatchSizer(target_s=0.1, max_rows=5_000)
    drive(sizer, rows_per_s=10_000_000, batches=20)
    assert sizer.size == 5_000
    slow = BatchSizer(target_s=0.1, max_rows=5_000)
    drive(slow, rows_per_s=1, batches=20)
    assert slow.size == slow.min_rows
    assert BatchSizer(target_s=0.1, max_rows=3).size == 3


def test_a_shrink_halves_the_batch_and_the_size_recovers_gradually():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    drive(sizer, rows_per_s=100_000, batches=30)
    steady = sizer.size
    assert sizer.shrink() == steady // 2
    sizer.observe(sizer.size, sizer.size / 100_000)
    assert sizer.size <= steady * 0.6  # the cap holds it down: no jump back to where it hurt
    for _round in range(30):
        sizer.recover()
        sizer.observe(sizer.size, sizer.size / 100_000)
    assert abs(sizer.size - steady) <= steady * 0.02


def test_empty_or_instant_batches_change_nothing():
    sizer = BatchSizer(target_s=0.1, max_rows=100_000)
    assert sizer.observe(0, 0.5) == START_ROWS and sizer.observe(100, 0.0) == START_ROWS and sizer.rate is None


def test_a_fixed_batch_never_changes():
    fixed = FixedBatch(700)
    assert fixed.observe(700, 9.0) == 700 and fixed.shrink() == 700 and fixed.size == 700

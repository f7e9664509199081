"""The pause between backfill batches: a duty cycle, a growing backoff on lock waits, waits on replica lag."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.throttle import (
    MAX_LOCK_BACKOFF_S,
    REPLICA_POLL_S,
    BatchSignals,
    Throttle,
    ThrottleSettings,
)

QUIET = BatchSignals()


def test_the_pause_is_a_fraction_of_the_batch_plus_the_fixed_pause():
    throttle = Throttle(ThrottleSettings(pause_ratio=0.25, pause_s=0.01))
    pause = throttle.after_batch(0.2, QUIET)
    assert pause.seconds == pytest.approx(0.06) and not pause.shrink and pause.reason == ""
    assert Throttle(ThrottleSettings(pause_ratio=0)).after_batch(0.2, QUIET).seconds == 0


def test_sessions_waiting_on_the_batch_shrink_it_and_the_backoff_doubles_while_it_lasts():
    throttle = Throttle(ThrottleSettings(pause_ratio=0.1))
    blocked = BatchSignals(blocked_sessions=2, longest_block_s=0.05)
    pauses = [throttle.after_batch(0.1, blocked) for _round in range(3)]
    assert [p.seconds for p in pauses] == pytest.approx([0.05, 0.1, 0.2])
    assert all(p.shrink for p in pauses) and "2 session(s) waited up to 50 ms" in pauses[0].reason
    assert throttle.after_batch(0.1, QUIET).seconds == pytest.approx(0.01)  # a clean batch resets the streak
    assert throttle.after_batch(0.1, blocked).seconds == pytest.approx(0.05)
    assert throttle.lock_backoffs == 4


def test_the_lock_backoff_is_never_shorter_than_the_duty_cycle_pause_and_is_capped():
    throttle = Throttle(ThrottleSettings(pause_ratio=1.0))
    assert throttle.after_batch(0.2, BatchSignals(1, 0.01)).seconds == pytest.approx(0.2)
    for _round in range(20):
        pause = throttle.after_batch(0.05, BatchSignals(1, 0.3))
    assert pause.seconds == MAX_LOCK_BACKOFF_S


def test_replica_lag_above_the_limit_means_wait_and_probe_again():
    throttle = Throttle(ThrottleSettings(max_replica_lag_s=1.0))
    assert throttle.replica_wait(None) == 0  # no replica, or its lag is not visible
    assert throttle.replica_wait(0.9) == 0
    assert throttle.replica_wait(1.5) == REPLICA_POLL_S and throttle.replica_waits == 1
    assert Throttle(ThrottleSettings(max_replica_lag_s=None)).replica_wait(100.0) == 0


def test_waits_within_the_tolerance_are_let_be_longer_ones_shrink_the_batch():
    throttle = Throttle(ThrottleSettings(pause_ratio=0.1, lock_wait_tolerance_s=0.05))
    short = throttle.after_batch(0.1, BatchSignals(blocked_sessions=3, longest_block_s=0.05))
    assert short.seconds == pytest.approx(0.01) and not short.shrink and throttle.lock_backoffs == 0
    long = throttle.after_batch(0.1, BatchSignals(blocked_sessions=1, longest_block_s=0.08))
    assert long.seconds == pytest.approx(0.08) and long.shrink and throttle.lock_backoffs == 1

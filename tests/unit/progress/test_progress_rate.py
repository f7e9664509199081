"""Progress lines from readings of the engine's records: percent, rate, ETA, and how they read."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.rate import amount, duration, progress_line
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord


def backfill(done: int, total: int | None = 10_000, status: str = "running", **extra) -> ProgressRecord:
    return ProgressRecord(kind="backfill", name="2024.011 minutes", unit="rows", done=done, total=total,
                          status=status, detail="content.courses", **extra)


def test_two_readings_give_percent_rate_and_eta():
    line = progress_line((100.0, backfill(1_000)), (110.0, backfill(3_000)))
    assert line.percent == pytest.approx(30.0)
    assert line.rate == pytest.approx(200.0)
    assert line.eta_seconds == pytest.approx(35.0)
    assert line.text() == "backfill 2024.011 minutes (content.courses): 30% 3,000 rows of ~10,000 rows 200 rows/s " \
        "ETA 0:00:35"


def test_a_first_reading_takes_its_rate_from_the_records_own_times():
    first = backfill(500, started_at="2026-12-03T10:00:00Z", updated_at="2026-12-03T10:00:05Z")
    line = progress_line(None, (1.0, first))
    assert line.rate == pytest.approx(100.0) and line.eta_seconds == pytest.approx(95.0)


def test_an_estimated_total_below_the_rows_done_never_shows_100_before_the_end():
    assert progress_line(None, (1.0, backfill(12_000))).percent == 99.0
    done = progress_line((1.0, backfill(9_000)), (2.0, backfill(12_000, status="done")))
    assert done.percent == 100.0 and done.eta_seconds == 0.0 and done.text().endswith("done")


def test_without_a_total_there_is_a_rate_and_no_eta():
    line = progress_line((0.0, backfill(0, total=None)), (4.0, backfill(2_000, total=None)))
    assert line.percent is None and line.eta_seconds is None
    assert line.text() == "backfill 2024.011 minutes (content.courses): 2,000 rows 500 rows/s ETA unknown"


def test_catching_up_is_the_rate_at_which_the_lag_shrinks():
    lag = ProgressRecord(kind="replication", name="dbops_cutover_blue_to_green", unit="bytes", remaining=8 << 20)
    later = ProgressRecord(kind="replication", name="dbops_cutover_blue_to_green", unit="bytes", remaining=4 << 20)
    line = progress_line((0.0, lag), (2.0, later))
    assert line.rate == pytest.approx(2 << 20) and line.eta_seconds == pytest.approx(2.0)
    assert line.text() == "replication dbops_cutover_blue_to_green: 4.0 MiB behind 2.0 MiB/s ETA 0:00:02"
    falling_behind = progress_line((0.0, later), (2.0, lag))
    assert falling_behind.eta_seconds is None and falling_behind.rate < 0


def test_amounts_and_durations_read_as_people_write_them():
    assert amount(1_234_567, "rows") == "1,234,567 rows"
    assert amount(512, "bytes") == "512 B" and amount(3 * 1024 ** 3, "bytes") == "3.0 GiB"
    assert duration(3723.4) == "1:02:03" and duration(None) == "?" and duration(-5) == "0:00:00"


def test_records_round_trip_through_their_dict():
    record = backfill(10, started_at="2026-12-03T10:00:00Z")
    assert ProgressRecord.from_dict({**record.to_dict(), "percent": 1}) == record

"""Waiting for the initial copy: every table of the subscription in state 'r' (copied, then streaming), with a
progress record (tables done of total, rows the running COPYs have written so far) and a timeout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError


class InitialCopyTimeout(DbopsError):
    """The initial copy did not finish within the timeout (it goes on: rerun to wait again)."""


@dataclass(frozen=True)
class CopyProgress:
    elapsed_ms: int
    tables_ready: int
    tables_total: int
    rows_copying: int  # rows written so far by the table syncs' running COPY (pg_stat_progress_copy)


def read_progress(target: Any, subscription: str, started: float) -> CopyProgress:
    row = target.execute("""
        SELECT count(*) FILTER (WHERE r.srsubstate = 'r'), count(*),
               (SELECT coalesce(sum(tuples_processed), 0) FROM pg_stat_progress_copy
                 WHERE datname = current_database())
          FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid
         WHERE s.subname = %s AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())""",
                         (subscription,)).fetchone()
    return CopyProgress(int((time.monotonic() - started) * 1000), int(row[0]), int(row[1]), int(row[2]))


def wait_for_initial_copy(target: Any, subscription: str, *, expected_tables: int, timeout: float,
                          poll_interval: float = 0.2) -> list[CopyProgress]:
    """The progress readings (about one a second, and the last); InitialCopyTimeout after timeout seconds."""
    started = time.monotonic()
    readings: list[CopyProgress] = []
    last_kept = -1.0
    while True:
        progress = read_progress(target, subscription, started)
        done = progress.tables_total >= expected_tables and progress.tables_ready == progress.tables_total
        if done or progress.elapsed_ms - last_kept >= 1000:
            readings.append(progress)
            last_kept = progress.elapsed_ms
        if done:
            return readings
        if time.monotonic() - started > timeout:
            raise InitialCopyTimeout(
                f"subscription {subscription}: initial copy not finished after {timeout:g} s "
                f"({progress.tables_ready} of {progress.tables_total} tables ready, {progress.rows_copying} rows "
                "in the running copies); it goes on in the background: rerun to wait again")
        time.sleep(poll_interval)

"""Running a part's backfills after its statements, each logged in dbops.migration_log with its row counts."""

from __future__ import annotations

import time

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import Backfill, MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import backfill, ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.batch_sizer import (
    BatchSizer,
    FixedBatch,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import with_lock_retry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.throttle import (
    DEFAULT_MAX_REPLICA_LAG_S,
    DEFAULT_PAUSE_RATIO,
    Throttle,
    ThrottleSettings,
)

# Long enough for the fixed cost of a batch (three round trips, planning, the checkpoint) to be small next to it,
# also on a busy server where every round trip can wait for a CPU (20 ms batches were much slower there);
# short enough that the application's writes to the rows of a batch wait for no more than that. What those waits
# cost the application grows with the square of the batch time: a longer batch locks more rows, for longer.
DEFAULT_BATCH_TIME_MS = 50
MAX_ADAPTIVE_ROWS = 100_000
# An application session that writes a row of the batch in flight waits for the batch's commit: anywhere between
# nothing and the whole batch, about half of it on average. Waits up to half the batch time are that expected
# price; longer ones (a queue on hot rows, a batch running over its time) shrink the batch and pause it.
LOCK_WAIT_TOLERANCE = 0.5


def pacing_for(item: Backfill, opts: RunOptions) -> backfill.Pacing:
    """A fixed batch when a row count is given without a batch_time (the run's batch_size overrides every
    backfill's), else batches sized to last about batch_time, at most batch_size (or MAX_ADAPTIVE_ROWS) rows."""
    fixed = opts.batch_size or (item.batch_size if item.batch_time_ms is None else None)
    target_ms = DEFAULT_BATCH_TIME_MS if fixed else item.batch_time_ms or DEFAULT_BATCH_TIME_MS
    throttle = Throttle(ThrottleSettings(
        pause_ratio=DEFAULT_PAUSE_RATIO if item.pause_ratio is None else item.pause_ratio,
        pause_s=item.pause_ms / 1000,
        max_replica_lag_s=DEFAULT_MAX_REPLICA_LAG_S if item.max_replica_lag_ms is None
        else item.max_replica_lag_ms / 1000,
        lock_wait_tolerance_s=target_ms / 1000 * LOCK_WAIT_TOLERANCE))
    if fixed:
        return backfill.Pacing(FixedBatch(fixed), throttle)
    return backfill.Pacing(BatchSizer(target_s=target_ms / 1000, max_rows=item.batch_size or MAX_ADAPTIVE_ROWS),
                           throttle)


def sizing_text(item: Backfill, opts: RunOptions) -> str:
    sizer = pacing_for(item, opts).sizer
    if not isinstance(sizer, BatchSizer):
        return f"batches of {sizer.size} rows"
    return (f"batches of about {sizer.target_s * 1000:.0f} ms (at most {sizer.max_rows} rows, sized as it runs, "
            f"throttled on lock waits and replica lag)")


def planned_backfills(mset: MigrationSet, opts: RunOptions) -> list[str]:
    return [backfill.describe(item, sizing_text(item, opts)) for item in postgres_part(mset).backfill]


def run_backfills(session: PartSession, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
    for item in postgres_part(mset).backfill:
        _run_backfill(session, mset, item, opts)
        queries.append(backfill.describe(item, sizing_text(item, opts)))


def _run_backfill(session: PartSession, mset: MigrationSet, item: Backfill, opts: RunOptions) -> None:
    described = backfill.describe(item, sizing_text(item, opts))
    session.timeouts.for_session(postgres_part(mset), opts)
    started = now()
    t0 = time.perf_counter()

    def logged(status: str, detail: str = "", error: str | None = None) -> None:
        ledger.write_log(session.conn, opts.run_id, [ledger.LogEntry(
            mset.version, "backfill", 0, described + detail, status, started, (time.perf_counter() - t0) * 1000,
            1, error)])

    try:
        stats = backfill.run_backfill(
            session.conn, mset.version, item, pacing=pacing_for(item, opts),
            retry=lambda work, on_retry: with_lock_retry(work, retries=opts.ddl_retries, on_retry=on_retry))
    except psycopg.Error as exc:
        logged("error", error=pg_message(exc))
        raise MigrationFailed(f"backfill {item.name} on {item.table} failed: {pg_message(exc)}",
                              version=mset.version, path=mset.manifest.path or mset.path) from exc
    finally:
        session.timeouts.reset()
    resumed = f", resumed after key {stats.resumed_from}" if stats.resumed_from else ""
    logged("ok", f"\n-- {stats.rows} rows in {stats.summary()}{resumed}")

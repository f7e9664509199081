"""Running a part's online changes (postgres/online_change/): after its statements when applied, their reverts
before its statements when rolled back; each logged in dbops.migration_log like a backfill."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, OnlineChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import backfill, ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill_runner import (
    DEFAULT_BATCH_TIME_MS,
    MAX_ADAPTIVE_ROWS,
)
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
    Throttle,
    ThrottleSettings,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.change_run import (
    ChangeTarget,
    abandon_forward,
    planned_shape,
    revert_needed,
    run_change,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.plan import describe
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import TableShape


def pacing_for(change: OnlineChange, opts: RunOptions) -> backfill.Pacing:
    """Like a backfill's: a fixed batch_size alone, else batches of about batch_time (at most batch_size)."""
    throttle = Throttle(ThrottleSettings())
    fixed = opts.batch_size or (change.batch_size if change.batch_time_ms is None else None)
    if fixed:
        return backfill.Pacing(FixedBatch(fixed), throttle)
    return backfill.Pacing(BatchSizer(target_s=(change.batch_time_ms or DEFAULT_BATCH_TIME_MS) / 1000,
                                      max_rows=change.batch_size or MAX_ADAPTIVE_ROWS), throttle)


def _sizing(change: OnlineChange, opts: RunOptions) -> str:
    sizer = pacing_for(change, opts).sizer
    if not isinstance(sizer, BatchSizer):
        return f"batches of {sizer.size} rows"
    return f"batches of about {sizer.target_s * 1000:.0f} ms (at most {sizer.max_rows} rows)"


def targets(mset: MigrationSet, direction: str) -> list[ChangeTarget]:
    """The changes in apply order, or their reverts in reverse order."""
    changes = postgres_part(mset).online_change
    path = mset.manifest.path or mset.path
    ordered = changes if direction == "up" else tuple(reversed(changes))
    return [ChangeTarget(change, direction, mset.version, path) for change in ordered]


def missing_revert(mset: MigrationSet) -> OnlineChange | None:
    return next((c for c in postgres_part(mset).online_change if c.revert is None), None)


def _described(conn: Any, target: ChangeTarget, shape: TableShape | None, opts: RunOptions) -> list[str]:
    names = target.names(shape.schema, shape.name) if shape else target.names("", target.change.table)
    return describe(conn, target.change, target.alter, target.using, shape, names, _sizing(target.change, opts))


def planned_online_changes(conn: Any, mset: MigrationSet, direction: str, opts: RunOptions) -> list[str]:
    """Reads the catalog and refuses what cannot move; executes nothing. A table not there yet may come from an
    earlier set of the same run: it is described without its catalog, and checked when the change starts."""
    planned = []
    for target in targets(mset, direction):
        if direction == "down" and ledger.ledger_exists(conn) and not revert_needed(conn, target):
            planned.append(f"-- online change of {target.change.table} never swapped: nothing to revert; the "
                           "shadow table, trigger and progress it left (if any) are dropped")
            continue
        planned.extend(_described(conn, target, planned_shape(conn, target), opts))
    return planned


def run_online_changes(session: PartSession, mset: MigrationSet, direction: str, opts: RunOptions,
                       queries: list[str]) -> None:
    for target in targets(mset, direction):
        _run_change(session, mset, target, opts, queries)


def _run_change(session: PartSession, mset: MigrationSet, target: ChangeTarget, opts: RunOptions,
                queries: list[str]) -> None:
    part = postgres_part(mset)
    if target.direction == "down" and not revert_needed(session.conn, target):
        # Never swapped: the table has its old shape; only what the stopped forward change left is dropped.
        queries.extend(abandon_forward(session.conn, target))
        return
    session.timeouts.for_session(part, opts)
    started = now()
    t0 = time.perf_counter()
    headline = f"-- online change of {target.change.table} ({target.direction})"

    def logged(status: str, detail: str = "", error: str | None = None) -> None:
        ledger.write_log(session.conn, opts.run_id, [ledger.LogEntry(
            mset.version, "backfill", 0, headline + detail, status, started, (time.perf_counter() - t0) * 1000,
            1, error)])

    try:
        outcome = run_change(
            session.conn, target, pacing=pacing_for(target.change, opts),
            retry=lambda work, on_retry: with_lock_retry(work, retries=opts.ddl_retries, on_retry=on_retry))
    except MigrationFailed as exc:
        logged("error", error=exc.message)
        raise
    except psycopg.Error as exc:  # after the swap (validating the moved foreign keys): a rerun finishes it
        logged("error", error=pg_message(exc))
        raise MigrationFailed(f"online change of {target.change.table}: the swap is done, finishing it failed "
                              f"(run again to finish): {pg_message(exc)}", version=mset.version,
                              path=target.path) from exc
    finally:
        session.timeouts.reset()
    if outcome.already_done:
        return
    queries.extend(_described(session.conn, target, outcome.shape, opts))
    resumed = f", resumed after key {outcome.resumed_from}" if outcome.resumed_from else ""
    old = f"{outcome.shape.schema}.{outcome.names.old}" if outcome.shape and outcome.names else "?"
    logged("ok", f"\n-- {outcome.rows_copied} rows copied, {outcome.rows_compared} rows compared{resumed}; "
                 f"the old table is {old}")

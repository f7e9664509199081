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
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import with_lock_retry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import now


def batch_size(item: Backfill, opts: RunOptions) -> int:
    """The run's batch_size overrides every backfill's own."""
    return opts.batch_size or item.batch_size


def planned_backfills(mset: MigrationSet, opts: RunOptions) -> list[str]:
    return [backfill.describe(item, batch_size(item, opts)) for item in postgres_part(mset).backfill]


def run_backfills(session: PartSession, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
    for item in postgres_part(mset).backfill:
        _run_backfill(session, mset, item, opts)
        queries.append(backfill.describe(item, batch_size(item, opts)))


def _run_backfill(session: PartSession, mset: MigrationSet, item: Backfill, opts: RunOptions) -> None:
    size = batch_size(item, opts)
    described = backfill.describe(item, size)
    session.timeouts.for_session(postgres_part(mset), opts)
    started = now()
    t0 = time.perf_counter()

    def logged(status: str, detail: str = "", error: str | None = None) -> None:
        ledger.write_log(session.conn, opts.run_id, [ledger.LogEntry(
            mset.version, "backfill", 0, described + detail, status, started, (time.perf_counter() - t0) * 1000,
            1, error)])

    try:
        stats = backfill.run_backfill(session.conn, mset.version, item, batch_size=size,
                                      retry=lambda work: with_lock_retry(work, retries=opts.ddl_retries))
    except psycopg.Error as exc:
        logged("error", error=pg_message(exc))
        raise MigrationFailed(f"backfill {item.name} on {item.table} failed: {pg_message(exc)}",
                              version=mset.version, path=mset.manifest.path or mset.path) from exc
    finally:
        session.timeouts.reset()
    resumed = f", resumed after key {stats.resumed_from}" if stats.resumed_from else ""
    logged("ok", f"\n-- {stats.rows} rows in {stats.batches} batches{resumed}")

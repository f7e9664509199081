"""A part run in ONE transaction with its ledger row, its statement log and its verification.

Applied completely or not at all; retried whole after a lock timeout. Its queries are pipelined (pipelined.py).
"""

from __future__ import annotations

import time

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    ROLLED_BACK,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.failure_report import (
    as_error,
    record_failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import with_lock_retry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.pipelined import pipelined
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import Statement
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import (
    execute_logged,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.verification import verification_error


def run_in_one_transaction(session: PartSession, mset: MigrationSet, statements: list[Statement], direction: str,
                           opts: RunOptions, queries: list[str]) -> bool:
    """Run the part; True when its verification ran (and passed) inside the transaction."""
    part = postgres_part(mset)
    conn = session.conn
    verify = bool(part.verify_sql) and direction == "up"
    earlier_attempts: list[ledger.LogEntry] = []
    started = time.monotonic()

    def attempt(number: int) -> None:
        log: list[ledger.LogEntry] = []
        session.timeouts.use_run_lock_timeout(opts)
        try:
            # One pipeline for the whole transaction: BEGIN goes out with the first statement, the ledger rows with
            # the COMMIT (a one-statement set: two round trips).
            with pipelined(conn) as flush:
                session.timeouts.begin_transaction(part)
                for stmt in statements:
                    execute_logged(conn, mset.version, stmt, direction, number, log, flush)
                failed = verification_error(conn, mset) if verify else None
                if failed:
                    raise failed
                if direction == "down":
                    ledger.clear_progress(conn, mset.version, backfill=True)
                ledger.record_log_and_commit(
                    conn, earlier_attempts + log, version=mset.version, name=mset.slug, checksum=part.checksum,
                    status=APPLIED if direction == "up" else ROLLED_BACK, run_id=opts.run_id,
                    duration_ms=int((time.monotonic() - started) * 1000), keep_started=direction == "down")
        except BaseException:
            session.rollback_quietly()
            earlier_attempts.extend(log)
            raise

    try:
        with_lock_retry(attempt, retries=opts.ddl_retries)
    except Exception as exc:
        error = record_failure(session, mset, direction, as_error(mset, direction, exc, opts), opts,
                               earlier_attempts, statements)
        raise error from exc
    queries.extend(s.sql for s in statements)
    return verify

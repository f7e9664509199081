"""Running one statement of a part and logging how it went (for dbops.migration_log)."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now as now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import is_lock_failure
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.pipelined import Flush
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import Statement


class StatementFailed(Exception):
    """A statement failed; carries which one (the database error is the __cause__)."""

    def __init__(self, statement: Statement, error: BaseException) -> None:
        super().__init__(str(error))
        self.statement = statement
        self.error = error


def execute_logged(conn: Any, version: str, stmt: Statement, direction: str, attempt: int,
                   log: list[ledger.LogEntry], flush: Flush | None = None) -> None:
    """Run stmt and append its log entry; a database error becomes StatementFailed naming the statement.

    flush: inside pipelined(), the pipeline's flush; stmt goes out with what is queued before it (the BEGIN) and
    its result, or its error, is back when this returns.
    """
    started = now()
    t0 = time.perf_counter()
    try:
        conn.execute(stmt.sql)
        if flush is not None:
            flush()
    except psycopg.Error as exc:
        log.append(ledger.LogEntry(version, direction, stmt.index, stmt.sql,
                                   "lock_timeout" if is_lock_failure(exc) else "error", started,
                                   (time.perf_counter() - t0) * 1000, attempt, pg_message(exc)))
        raise StatementFailed(stmt, exc) from exc
    log.append(ledger.LogEntry(version, direction, stmt.index, stmt.sql, "ok", started,
                               (time.perf_counter() - t0) * 1000, attempt))

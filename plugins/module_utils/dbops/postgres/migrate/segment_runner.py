"""A part run as segments: each group of ordinary statements in a transaction, each non-transactional statement
alone (autocommit), every one marked done in dbops.statement_progress as it commits, so a rerun resumes with the
first statement not done. The part's backfills follow its statements.
"""

from __future__ import annotations

import contextlib
import time

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, PostgresPart
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    ROLLED_BACK,
    RUNNING,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill_runner import run_backfills
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.failure_report import (
    as_error,
    record_failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.invalid_index_recovery import (
    INDEX_REASONS,
    drop_new_invalid_indexes,
    invalid_indexes,
    recover_interrupted_build,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import with_lock_retry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.online_change_runner import (
    run_online_changes,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import Statement
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import (
    StatementFailed,
    execute_logged,
    now,
)


def needs_segments(part: PostgresPart, statements: list[Statement], direction: str) -> bool:
    return (part.options.transaction == "false" or any(not s.transactional for s in statements)
            or (direction == "up" and bool(part.backfill)) or bool(part.online_change))


def segments(part: PostgresPart, statements: list[Statement]) -> list[tuple[bool, list[Statement]]]:
    """(transactional, statements) groups in order."""
    if part.options.transaction == "false":
        return [(False, [s]) for s in statements]
    groups: list[tuple[bool, list[Statement]]] = []
    for stmt in statements:
        if not stmt.transactional:
            groups.append((False, [stmt]))
        elif groups and groups[-1][0]:
            groups[-1][1].append(stmt)
        else:
            groups.append((True, [stmt]))
    return groups


def _progress_rows(statements: list[Statement]) -> list[tuple[int, str]]:
    return [(s.index, ledger.statement_sha(s.sql)) for s in statements]


class SegmentRunner:
    """Runs one part's direction as segments on the session's connection."""

    def __init__(self, session: PartSession, mset: MigrationSet, direction: str, opts: RunOptions) -> None:
        self.session = session
        self.conn = session.conn
        self.mset = mset
        self.part = postgres_part(mset)
        self.direction = direction
        self.opts = opts
        self.log: list[ledger.LogEntry] = []

    def run(self, statements: list[Statement], queries: list[str]) -> None:
        progress = self._matching_progress(statements)
        started = time.monotonic()
        if self.direction == "up":
            self.session.record(self.mset, RUNNING, self.opts, keep_started=bool(progress))
        else:
            # Killed part-way, the part is neither applied nor rolled back: the ledger must not say "applied".
            self.session.record(self.mset, RUNNING, self.opts, error="rollback in progress", keep_started=True)
        try:
            if self.direction == "down":  # the reverse of the order they were applied in
                run_online_changes(self.session, self.mset, "down", self.opts, queries)
            for transactional, group in segments(self.part, statements):
                todo = [s for s in group if not (s.index in progress and progress[s.index].status == "done")]
                if not todo:
                    continue
                if transactional:
                    self._run_group(todo)
                else:
                    self._run_alone(todo[0], progress.get(todo[0].index))
                queries.extend(s.sql for s in todo)
            if self.direction == "up":
                run_backfills(self.session, self.mset, self.opts, queries)
                run_online_changes(self.session, self.mset, "up", self.opts, queries)
            self._finish(int((time.monotonic() - started) * 1000))
        except Exception as exc:
            error = record_failure(self.session, self.mset, self.direction,
                                   as_error(self.mset, self.direction, exc, self.opts), self.opts, self.log,
                                   statements)
            raise error from exc
        finally:
            with contextlib.suppress(psycopg.Error):
                self.session.timeouts.reset()

    def _matching_progress(self, statements: list[Statement]) -> dict[int, ledger.ProgressRow]:
        progress = ledger.read_progress(self.conn, self.mset.version, self.direction)
        by_index = {s.index: s for s in statements}
        for seq, row in progress.items():
            stmt = by_index.get(seq)
            if stmt is None or row.statement_sha != ledger.statement_sha(stmt.sql):
                raise MigrationFailed(
                    f"recorded progress (statement {seq}) does not match the file any more; the part was partly "
                    "run with different SQL: restore the file, or repair the database and dbops.statement_progress",
                    version=self.mset.version, path=part_path(self.mset, self.direction))
        return progress

    def _finish(self, duration_ms: int) -> None:
        """The final status, progress forgotten and the log, in one transaction."""
        self.conn.execute("BEGIN")
        try:
            if self.direction == "up":
                self.session.record(self.mset, APPLIED, self.opts, duration_ms=duration_ms, finished=True,
                                    keep_started=True)
                ledger.clear_progress(self.conn, self.mset.version, directions=("up", "down"))
            else:
                self.session.record(self.mset, ROLLED_BACK, self.opts, duration_ms=duration_ms, finished=True,
                                    keep_started=True)
                ledger.clear_progress(self.conn, self.mset.version, backfill=True)
            ledger.write_log(self.conn, self.opts.run_id, self.log)
            self.conn.execute("COMMIT")
        except BaseException:
            self.session.rollback_quietly()
            raise

    def _run_group(self, group: list[Statement]) -> None:
        """Ordinary statements in one transaction, marked done in the same transaction."""
        earlier: list[ledger.LogEntry] = []

        def attempt(number: int) -> None:
            attempt_log: list[ledger.LogEntry] = []
            self.session.timeouts.begin(self.part, self.opts)
            try:
                for stmt in group:
                    execute_logged(self.conn, self.mset.version, stmt, self.direction, number, attempt_log)
                self._commit_done(group, earlier + attempt_log)
            except BaseException:
                self.session.rollback_quietly()
                earlier.extend(attempt_log)
                raise

        try:
            with_lock_retry(attempt, retries=self.opts.ddl_retries)
        except BaseException:
            self.log.extend(earlier)
            raise

    def _run_alone(self, stmt: Statement, previous: ledger.ProgressRow | None) -> None:
        """A statement that cannot run in a transaction block: autocommit, progress marked before and after."""
        # A "running" row: the runner died while this statement ran; clean up what a half-done index build left.
        interrupted = previous if previous is not None and previous.status == "running" else None
        if interrupted is not None and recover_interrupted_build(self.conn, stmt, interrupted.invalid_before,
                                                                 self.opts.warnings, self.mset.version):
            self._mark_done(stmt, [ledger.LogEntry(self.mset.version, self.direction, stmt.index, stmt.sql, "ok",
                                                   now(), 0.0, 1, "found complete after an interrupted run")])
            return
        before = invalid_indexes(self.conn) if stmt.reason in INDEX_REASONS else None
        ledger.mark_progress(self.conn, self.mset.version, self.direction, _progress_rows([stmt]), "running",
                             invalid_before=before)
        attempts: list[ledger.LogEntry] = []

        def attempt(number: int) -> None:
            self.session.timeouts.for_session(self.part, self.opts)
            try:
                execute_logged(self.conn, self.mset.version, stmt, self.direction, number, attempts)
            except StatementFailed:
                dropped = drop_new_invalid_indexes(self.conn, before)
                if dropped:
                    attempts[-1].error = (attempts[-1].error or "") + f" [dropped INVALID index {', '.join(dropped)}]"
                raise
            finally:
                self.session.timeouts.reset()

        try:
            with_lock_retry(attempt, retries=self.opts.ddl_retries)
        except BaseException:
            self.log.extend(attempts)
            with contextlib.suppress(psycopg.Error):
                ledger.forget_progress(self.conn, self.mset.version, self.direction, stmt.index)
            raise
        self._mark_done(stmt, attempts)

    def _mark_done(self, stmt: Statement, entries: list[ledger.LogEntry]) -> None:
        self.conn.execute("BEGIN")
        try:
            self._commit_done([stmt], entries)
        except BaseException:
            self.session.rollback_quietly()
            raise

    def _commit_done(self, statements: list[Statement], entries: list[ledger.LogEntry]) -> None:
        """Inside the open transaction: the statements marked done, their log, COMMIT."""
        ledger.mark_progress(self.conn, self.mset.version, self.direction, _progress_rows(statements), "done")
        ledger.write_log(self.conn, self.opts.run_id, entries)
        self.conn.execute("COMMIT")

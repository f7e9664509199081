"""The PostgreSQL part of migration sets: apply, verify, roll back, with the ledger in schema dbops.

A part without statements that refuse a transaction block runs in ONE transaction together with its ledger
row and statement log (and its verification), so it is applied completely or not at all. Otherwise it runs as
segments (each group of ordinary statements in a transaction, each non-transactional statement alone), and
every segment records its statements as done in dbops.statement_progress in the same transaction, so a rerun
resumes with the first statement not done.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from datetime import datetime, timezone
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    DbopsError,
    DestructiveChangeRefused,
    IrreversibleMigration,
    MigrationFailed,
    MigrationFormatError,
    ValidationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, PostgresPart
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    FAILED,
    PARTIAL,
    ROLLED_BACK,
    RUNNING,
    LedgerEntry,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect, mask_secrets
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import advisory_lock, backfill, ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.destructive_guard import (
    ColumnType,
    canonical_type,
    find_destructive,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import (
    is_lock_failure,
    with_lock_retry,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
    Statement,
    first_words,
    split_statements,
)

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover
    psycopg = None
    sql = None

_INDEX_REASONS = ("CREATE INDEX CONCURRENTLY", "REINDEX CONCURRENTLY")


class _StatementFailed(Exception):
    """A statement failed; carries which one (the database error is the __cause__)."""

    def __init__(self, statement: Statement, error: BaseException) -> None:
        super().__init__(str(error))
        self.statement = statement
        self.error = error


def statement_sha(text: str) -> str:
    """Fingerprint of a statement recorded with its progress, to notice a file changed under a half-done part."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _now() -> datetime:
    return datetime.now(timezone.utc)  # noqa: UP017 - datetime.UTC needs Python 3.11 on the target host


def pg_message(exc: BaseException) -> str:
    """SQLSTATE, message, detail and hint of a database error, on one line, secrets masked."""
    diag = getattr(exc, "diag", None)
    if diag is not None and diag.message_primary:
        text = f"{diag.message_primary} (SQLSTATE {diag.sqlstate})"
        if diag.message_detail:
            text += f" DETAIL: {diag.message_detail}"
        if diag.message_hint:
            text += f" HINT: {diag.message_hint}"
    else:
        text = " ".join(str(exc).split())
    return mask_secrets(text)


class PostgresPartExecutor:
    """PartExecutor for PostgreSQL (see migrations/part_executor.py for the protocol)."""

    name = "postgres"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None
        self._locked = False
        self._verified: set[str] = set()  # versions whose verification ran inside their transaction in this run
        self._client: Any = None  # client-side binding cursor: several statements in one round trip
        self._statements: dict[tuple[str, str], list[Statement]] = {}  # parsed once per run
        self._versions_with_progress: set[str] | None = None  # read once for planning
        self._ledger_ready = False
        self._session_lock_ms: int | None = None  # lock_timeout currently set on the session

    # ---- connection and lock -----------------------------------------------------------------------------------

    def connect(self) -> None:
        self.conn = connect(self.dsn)
        # If this runner is killed, the server aborts its running statement instead of finishing it unnoticed.
        with contextlib.suppress(psycopg.Error):  # older servers do not have it: harmless
            self.conn.execute("SET client_connection_check_interval = '2s'")

    def close(self) -> None:
        if self.conn is not None:
            try:
                if self._locked:
                    self.release_runner_lock()
            except psycopg.Error:
                pass
            self.conn.close()
            self.conn = None

    def acquire_runner_lock(self, wait_s: float) -> None:
        advisory_lock.acquire(self.conn, wait_s)
        self._locked = True

    def release_runner_lock(self) -> None:
        if self._locked:
            self._locked = False
            advisory_lock.release(self.conn)

    def _ensure_ledger(self) -> None:
        """Create the ledger on first use (never in check mode: only apply/rollback/record_status call this)."""
        if not self._ledger_ready:
            ledger.ensure_ledger(self.conn)
            self._ledger_ready = True

    def ledger(self) -> dict[str, LedgerEntry]:
        return ledger.read_ledger(self.conn)

    def has_part(self, migration_set: MigrationSet) -> bool:
        return migration_set.postgres is not None

    # ---- statements ----------------------------------------------------------------------------------------------

    @staticmethod
    def _path(mset: MigrationSet, direction: str):
        part = mset.postgres
        if direction == "down":
            return part.down_path or mset.path
        if direction == "verify":
            return part.verify_path or (mset.manifest.path or mset.path)
        return part.up_path or (mset.manifest.path or mset.path)

    def statements(self, mset: MigrationSet, direction: str, opts: RunOptions) -> list[Statement]:
        """The statements to run, transaction control (BEGIN/COMMIT in the file) left out with a warning."""
        cached = self._statements.get((mset.version, direction))
        if cached is not None:
            return cached
        part = mset.postgres
        text = part.up_sql if direction == "up" else (part.down_sql or "")
        statements = []
        for stmt in split_statements(text):
            if stmt.transaction_control:
                warning = (f"{mset.version} ({self._path(mset, direction)}): statement {stmt.index} "
                           f"({first_words(stmt.sql, 3)}) ignored: the engine manages transactions")
                if warning not in opts.warnings:
                    opts.warnings.append(warning)
                continue
            statements.append(stmt)
        part_mode = part.options.transaction
        if part_mode == "true":
            for stmt in statements:
                if not stmt.transactional:
                    raise MigrationFormatError(
                        f"statement {stmt.index} (line {stmt.line}) is {stmt.reason}, which cannot run in a "
                        "transaction, but postgres.transaction is true", version=mset.version,
                        path=self._path(mset, direction))
        self._statements[(mset.version, direction)] = statements
        return statements

    @staticmethod
    def _needs_segments(part: PostgresPart, statements: list[Statement], direction: str) -> bool:
        return (part.options.transaction == "false" or any(not s.transactional for s in statements)
                or (direction == "up" and bool(part.backfill)))

    @staticmethod
    def _segments(part: PostgresPart, statements: list[Statement]) -> list[tuple[bool, list[Statement]]]:
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

    def _lock_timeout_ms(self, part: PostgresPart, opts: RunOptions) -> int:
        return part.options.lock_timeout_ms if part.options.lock_timeout_ms is not None else opts.lock_timeout_ms

    def _begin(self, part: PostgresPart, opts: RunOptions) -> None:
        """BEGIN with the set's timeouts, in one round trip.

        The run's lock_timeout is a session setting (set once, not per set: hundreds of small sets notice);
        a set that overrides it, or sets a statement_timeout, gets SET LOCAL for its own transaction.
        """
        if self._session_lock_ms != opts.lock_timeout_ms:
            # A query of its own: sent together with BEGIN it would belong to the transaction and be undone by
            # the ROLLBACK before a retry.
            self.conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{opts.lock_timeout_ms}ms")))
            self._session_lock_ms = opts.lock_timeout_ms
        parts = [sql.SQL("BEGIN")]
        if part.options.lock_timeout_ms is not None:
            parts.append(sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{part.options.lock_timeout_ms}ms")))
        if part.options.statement_timeout_ms is not None:
            parts.append(sql.SQL("SET LOCAL statement_timeout = {}").format(
                sql.Literal(f"{part.options.statement_timeout_ms}ms")))
        self.conn.execute(sql.SQL("; ").join(parts))

    def _session_timeouts(self, part: PostgresPart | None, opts: RunOptions) -> None:
        """Timeouts for statements that run outside a transaction block (and backfill batches)."""
        lock_ms = self._lock_timeout_ms(part, opts) if part else opts.lock_timeout_ms
        stmt_ms = part.options.statement_timeout_ms if part else None
        if stmt_ms is None:
            self.conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{lock_ms}ms",))
        else:
            self.conn.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, "
                              "false)", (f"{lock_ms}ms", f"{stmt_ms}ms"))
        self._session_lock_ms = lock_ms

    def _reset_session_timeouts(self) -> None:
        self.conn.execute("RESET lock_timeout; RESET statement_timeout")
        self._session_lock_ms = None

    def _client_cursor(self) -> Any:
        if self._client is None:
            self._client = psycopg.ClientCursor(self.conn)
        return self._client

    def _rollback_quietly(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.execute("ROLLBACK")

    def _execute_logged(self, mset: MigrationSet, stmt: Statement, direction: str, attempt: int,
                        log: list[ledger.LogEntry]) -> None:
        started = _now()
        t0 = time.perf_counter()
        try:
            self.conn.execute(stmt.sql)
        except psycopg.Error as exc:
            log.append(ledger.LogEntry(mset.version, direction, stmt.index, stmt.sql,
                                       "lock_timeout" if is_lock_failure(exc) else "error", started,
                                       (time.perf_counter() - t0) * 1000, attempt, pg_message(exc)))
            raise _StatementFailed(stmt, exc) from exc
        log.append(ledger.LogEntry(mset.version, direction, stmt.index, stmt.sql, "ok", started,
                                   (time.perf_counter() - t0) * 1000, attempt))

    def _failure(self, mset: MigrationSet, direction: str, exc: BaseException, opts: RunOptions) -> DbopsError:
        path = self._path(mset, direction)
        if isinstance(exc, DbopsError):
            return exc
        if isinstance(exc, _StatementFailed):
            stmt = exc.statement
            what = "rollback " if direction == "down" else ""
            if is_lock_failure(exc.error):
                return MigrationFailed(
                    f"{what}statement {stmt.index} (line {stmt.line}: {first_words(stmt.sql)}) could not get its "
                    f"lock within lock_timeout {self._lock_timeout_ms(mset.postgres, opts)}ms after "
                    f"{opts.ddl_retries + 1} attempts: {pg_message(exc.error)}", version=mset.version, path=path)
            return MigrationFailed(f"{what}statement {stmt.index} (line {stmt.line}: {first_words(stmt.sql)}) "
                                   f"failed: {pg_message(exc.error)}", version=mset.version, path=path)
        if psycopg is not None and isinstance(exc, psycopg.Error):
            return MigrationFailed(pg_message(exc), version=mset.version, path=path)
        return MigrationFailed(str(exc), version=mset.version, path=path)

    # ---- planning and pre-flight -----------------------------------------------------------------------------------

    def _column_type(self, schema: str | None, table: str, column: str) -> ColumnType | None:
        row = self.conn.execute(
            "SELECT t.typname, a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE c.relname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "AND (n.nspname = %s OR (%s::text IS NULL AND pg_table_is_visible(c.oid))) LIMIT 1",
            (table, column, schema, schema)).fetchone()
        if row is None:
            return None
        typname, typmod = row
        mods: tuple[int, ...] = ()
        if typmod >= 4 and typname in ("varchar", "bpchar"):
            mods = (typmod - 4,)
        elif typmod >= 4 and typname == "numeric":
            mods = (((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
        return canonical_type(typname, mods)

    def _guard(self, mset: MigrationSet, statements: list[Statement], opts: RunOptions) -> None:
        notes: list[str] = []
        findings = [f"{f.what} (statement {f.statement.index}, line {f.statement.line})"
                    for f in find_destructive(statements, self._column_type, notes)]
        path = self._path(mset, "up")
        opts.warnings.extend(f"{mset.version} ({path}): {note}" for note in notes)
        if mset.manifest.destructive:
            findings.append("migration.yml declares destructive: true")
        if not findings:
            return
        if not opts.allow_destructive:
            raise DestructiveChangeRefused(
                "destructive change refused (allow_destructive is off): " + "; ".join(findings),
                version=mset.version, path=path)
        opts.warnings.append(f"{mset.version} ({path}): destructive change allowed: " + "; ".join(findings))

    def plan_apply(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        part = migration_set.postgres
        statements = self.statements(migration_set, "up", opts)
        if self._done_for_plan(migration_set.version, "down"):
            raise MigrationFailed("a rollback of this set stopped part-way (some of postgres.down.sql ran): run the "
                                  "rollback again (state rolled_back) to finish it before applying the set",
                                  version=migration_set.version, path=self._path(migration_set, "down"))
        self._guard(migration_set, statements, opts)
        done = self._done_for_plan(migration_set.version, "up")
        planned = [s.sql for s in statements if s.index not in done]
        batch_size_of = self._batch_size(opts)
        for item in part.backfill:
            planned.append(backfill.describe(item, batch_size_of(item)))
        if part.verify_sql:
            planned.append("-- verify: must return no rows\n" + part.verify_sql.strip())
        return planned

    def plan_rollback(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        statements = self.statements(migration_set, "down", opts)
        findings = find_destructive(statements, None, [])
        if findings:
            opts.warnings.append(f"{migration_set.version} ({self._path(migration_set, 'down')}): the rollback "
                                 "destroys data: " + "; ".join(f.what for f in findings))
        done = self._done_for_plan(migration_set.version, "down")
        return [s.sql for s in statements if s.index not in done]

    def _done_for_plan(self, version: str, direction: str) -> set[int]:
        """Statements already done (resumable parts); one query for all sets, not one per set."""
        if self._versions_with_progress is None:
            self._versions_with_progress = {r[0] for r in self.conn.execute(
                "SELECT DISTINCT version FROM dbops.statement_progress")} if ledger.ledger_exists(self.conn) else set()
        if version not in self._versions_with_progress:
            return set()
        return {seq for seq, row in ledger.read_progress(self.conn, version, direction).items()
                if row.status == "done"}

    def ensure_reversible(self, migration_set: MigrationSet) -> None:
        part = migration_set.postgres
        if part is None or part.down_sql is not None:
            return
        missing = {
            "golang-migrate": "no .down.sql file",
            "flyway": "no U (undo) file",
            "dbmate": "the -- migrate:down section has no SQL",
        }.get(part.source_format, "no postgres.down.sql")
        raise IrreversibleMigration(f"cannot roll back: {missing}; nothing was changed",
                                    version=migration_set.version, path=part.up_path or migration_set.path)

    @staticmethod
    def _batch_size(opts: RunOptions):
        return lambda item: opts.batch_size or item.batch_size

    # ---- apply / rollback ------------------------------------------------------------------------------------------

    def apply(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._ensure_ledger()
        statements = self.statements(migration_set, "up", opts)
        if self._needs_segments(migration_set.postgres, statements, "up"):
            self._run_segments(migration_set, statements, "up", opts, queries)
        else:
            self._run_single(migration_set, statements, "up", opts, queries)

    def rollback(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self.ensure_reversible(migration_set)
        self._ensure_ledger()
        statements = self.statements(migration_set, "down", opts)
        if self._needs_segments(migration_set.postgres, statements, "down"):
            self._run_segments(migration_set, statements, "down", opts, queries)
        else:
            self._run_single(migration_set, statements, "down", opts, queries)
        self._verified.discard(migration_set.version)

    def record_status(self, migration_set: MigrationSet, status: str, *, error: str | None = None) -> None:
        try:
            self._ensure_ledger()
            updated = self.conn.execute(
                "UPDATE dbops.schema_migrations SET status = %s, error = %s WHERE version = %s",
                (status, error, migration_set.version)).rowcount
            if not updated:
                ledger.record_status(self.conn, version=migration_set.version, name=migration_set.slug,
                                     checksum=migration_set.postgres.checksum, status=status, run_id="-", error=error)
        except psycopg.Error as exc:
            raise MigrationFailed(f"cannot record status {status} in the ledger: {pg_message(exc)}",
                                  version=migration_set.version) from exc

    def _record(self, mset: MigrationSet, status: str, opts: RunOptions, *, error: str | None = None,
                duration_ms: int | None = None, finished: bool = False, keep_started: bool = False) -> None:
        ledger.record_status(self.conn, version=mset.version, name=mset.slug, checksum=mset.postgres.checksum,
                             status=status, run_id=opts.run_id, error=error, duration_ms=duration_ms,
                             finished=finished, keep_started=keep_started)

    def _verify_rows(self, mset: MigrationSet) -> list[tuple]:
        return self.conn.execute(mset.postgres.verify_sql).fetchmany(3)

    def _verify_error(self, mset: MigrationSet, rows: list[tuple]) -> ValidationFailed:
        shown = "; ".join(repr(tuple(r)) for r in rows)
        return ValidationFailed(f"verification query returned rows (it must return none): {shown}",
                                version=mset.version, path=self._path(mset, "verify"))

    def _run_single(self, mset: MigrationSet, statements: list[Statement], direction: str, opts: RunOptions,
                    queries: list[str]) -> None:
        """The whole part, its ledger row and its log in one transaction (retried whole on lock timeouts)."""
        part = mset.postgres
        verify = part.verify_sql if direction == "up" else None
        earlier_attempts: list[ledger.LogEntry] = []
        started = time.monotonic()

        def attempt(number: int) -> None:
            log: list[ledger.LogEntry] = []
            self._begin(part, opts)
            try:
                for stmt in statements:
                    self._execute_logged(mset, stmt, direction, number, log)
                if verify:
                    rows = self._verify_rows(mset)
                    if rows:
                        raise self._verify_error(mset, rows)
                duration = int((time.monotonic() - started) * 1000)
                if direction == "down":
                    ledger.clear_progress(self.conn, mset.version, backfill=True)
                ledger.record_log_and_commit(
                    self._client_cursor(), earlier_attempts + log, version=mset.version, name=mset.slug,
                    checksum=mset.postgres.checksum, status=APPLIED if direction == "up" else ROLLED_BACK,
                    run_id=opts.run_id, duration_ms=duration, keep_started=direction == "down")
            except BaseException:
                self._rollback_quietly()
                earlier_attempts.extend(log)
                raise

        try:
            with_lock_retry(attempt, retries=opts.ddl_retries)
        except Exception as exc:
            error = self._failure(mset, direction, exc, opts)
            self._after_failure(mset, direction, error, opts, earlier_attempts)
            raise error from exc
        if verify:
            self._verified.add(mset.version)
        queries.extend(s.sql for s in statements)

    def _after_failure(self, mset: MigrationSet, direction: str, error: DbopsError, opts: RunOptions,
                       log: list[ledger.LogEntry]) -> None:
        """Record the failure (outside the rolled-back transaction); a broken connection must not hide the error."""
        try:
            ledger.write_log(self.conn, opts.run_id, log)
            if direction == "up":
                status = PARTIAL if ledger.has_progress(self.conn, mset.version) else FAILED
                self._record(mset, status, opts, error=str(error), keep_started=status == PARTIAL)
            else:
                ledger.set_error(self.conn, mset.version, f"rollback failed: {error}")
                if ledger.has_progress(self.conn, mset.version):
                    self._record(mset, PARTIAL, opts, error=f"rollback failed part-way: {error}", keep_started=True)
        except psycopg.Error as exc:
            opts.warnings.append(f"{mset.version}: could not record the failure in the ledger: {pg_message(exc)}")

    # ---- segments --------------------------------------------------------------------------------------------------

    def _invalid_indexes(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT indexrelid::bigint FROM pg_index WHERE NOT indisvalid")]

    def _drop_new_invalid_indexes(self, before: list[int] | None) -> list[str]:
        """Drop INVALID indexes that appeared since `before` (left by a failed CONCURRENTLY build)."""
        if before is None:
            return []
        rows = self.conn.execute(
            "SELECT n.nspname, c.relname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND NOT (i.indexrelid::bigint = ANY(%s))", (before,)).fetchall()
        dropped = []
        for schema, name in rows:
            self.conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name)))
            dropped.append(f"{schema}.{name}")
        return dropped

    def _index_state(self, stmt: Statement) -> bool | None:
        """For a named CREATE INDEX CONCURRENTLY: True valid, False invalid, None absent or unknown."""
        node = stmt.node_body
        if stmt.node_type != "IndexStmt" or not node.get("idxname"):
            return None
        schema = node.get("relation", {}).get("schemaname")
        row = self.conn.execute(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s "
            "AND (n.nspname = %s OR (%s::text IS NULL AND pg_table_is_visible(c.oid)))",
            (node["idxname"], schema, schema)).fetchone()
        return None if row is None else bool(row[0])

    def _run_segments(self, mset: MigrationSet, statements: list[Statement], direction: str, opts: RunOptions,
                      queries: list[str]) -> None:
        part = mset.postgres
        progress = ledger.read_progress(self.conn, mset.version, direction)
        by_index = {s.index: s for s in statements}
        for seq, row in progress.items():
            stmt = by_index.get(seq)
            if stmt is None or row.statement_sha != statement_sha(stmt.sql):
                raise MigrationFailed(
                    f"recorded progress (statement {seq}) does not match the file any more; the part was partly "
                    "run with different SQL: restore the file, or repair the database and dbops.statement_progress",
                    version=mset.version, path=self._path(mset, direction))
        started = time.monotonic()
        if direction == "up":
            self._record(mset, RUNNING, opts, keep_started=bool(progress))
        else:
            # Killed part-way, the part is neither applied nor rolled back: the ledger must not say "applied".
            self._record(mset, RUNNING, opts, error="rollback in progress", keep_started=True)
        log: list[ledger.LogEntry] = []
        try:
            for transactional, group in self._segments(part, statements):
                todo = [s for s in group if not (s.index in progress and progress[s.index].status == "done")]
                if not todo:
                    continue
                if transactional:
                    self._run_group(mset, todo, direction, opts, log)
                else:
                    self._run_alone(mset, todo[0], direction, opts, progress.get(todo[0].index), log)
                queries.extend(s.sql for s in todo)
            if direction == "up":
                self._run_backfills(mset, opts, queries)
            self.conn.execute("BEGIN")
            try:
                duration = int((time.monotonic() - started) * 1000)
                if direction == "up":
                    self._record(mset, APPLIED, opts, duration_ms=duration, finished=True, keep_started=True)
                    ledger.clear_progress(self.conn, mset.version, directions=("up", "down"))
                else:
                    self._record(mset, ROLLED_BACK, opts, duration_ms=duration, finished=True, keep_started=True)
                    ledger.clear_progress(self.conn, mset.version, backfill=True)
                ledger.write_log(self.conn, opts.run_id, log)
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                raise
        except Exception as exc:
            error = self._failure(mset, direction, exc, opts)
            self._after_failure(mset, direction, error, opts, log)
            raise error from exc
        finally:
            with contextlib.suppress(psycopg.Error):
                self._reset_session_timeouts()

    def _run_group(self, mset: MigrationSet, group: list[Statement], direction: str, opts: RunOptions,
                   log: list[ledger.LogEntry]) -> None:
        """Ordinary statements in one transaction, marked done in the same transaction."""
        earlier: list[ledger.LogEntry] = []

        def attempt(number: int) -> None:
            attempt_log: list[ledger.LogEntry] = []
            self._begin(mset.postgres, opts)
            try:
                for stmt in group:
                    self._execute_logged(mset, stmt, direction, number, attempt_log)
                ledger.mark_progress(self.conn, mset.version, direction,
                                     [(s.index, statement_sha(s.sql)) for s in group], "done")
                ledger.write_log(self.conn, opts.run_id, earlier + attempt_log)
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                earlier.extend(attempt_log)
                raise

        try:
            with_lock_retry(attempt, retries=opts.ddl_retries)
        except BaseException:
            log.extend(earlier)
            raise

    def _run_alone(self, mset: MigrationSet, stmt: Statement, direction: str, opts: RunOptions,
                   previous: ledger.ProgressRow | None, log: list[ledger.LogEntry]) -> None:
        """A statement that cannot run in a transaction block: autocommit, progress marked before and after."""
        watch_indexes = stmt.reason in _INDEX_REASONS
        if previous is not None and previous.status == "running":
            # The runner died while this statement ran: clean up what a half-done index build left behind.
            dropped = self._drop_new_invalid_indexes(previous.invalid_before)
            if dropped:
                opts.warnings.append(f"{mset.version}: dropped INVALID index(es) {', '.join(dropped)} left by an "
                                     f"interrupted run of statement {stmt.index}")
            if stmt.reason == "CREATE INDEX CONCURRENTLY" and self._index_state(stmt) is True:
                self._mark_done(mset, stmt, direction, opts, [ledger.LogEntry(
                    mset.version, direction, stmt.index, stmt.sql, "ok", _now(), 0.0, 1,
                    "found complete after an interrupted run")])
                return
        before = self._invalid_indexes() if watch_indexes else None
        ledger.mark_progress(self.conn, mset.version, direction, [(stmt.index, statement_sha(stmt.sql))], "running",
                             invalid_before=before)
        attempts: list[ledger.LogEntry] = []

        def attempt(number: int) -> None:
            self._session_timeouts(mset.postgres, opts)
            try:
                self._execute_logged(mset, stmt, direction, number, attempts)
            except _StatementFailed:
                dropped = self._drop_new_invalid_indexes(before)
                if dropped:
                    attempts[-1].error = (attempts[-1].error or "") + f" [dropped INVALID index {', '.join(dropped)}]"
                raise
            finally:
                self._reset_session_timeouts()

        try:
            with_lock_retry(attempt, retries=opts.ddl_retries)
        except BaseException:
            log.extend(attempts)
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("DELETE FROM dbops.statement_progress WHERE version = %s AND direction = %s "
                                  "AND seq = %s", (mset.version, direction, stmt.index))
            raise
        self._mark_done(mset, stmt, direction, opts, attempts)

    def _mark_done(self, mset: MigrationSet, stmt: Statement, direction: str, opts: RunOptions,
                   entries: list[ledger.LogEntry]) -> None:
        self.conn.execute("BEGIN")
        try:
            ledger.mark_progress(self.conn, mset.version, direction, [(stmt.index, statement_sha(stmt.sql))], "done")
            ledger.write_log(self.conn, opts.run_id, entries)
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback_quietly()
            raise

    def _run_backfills(self, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        part = mset.postgres
        batch_size_of = self._batch_size(opts)
        for item in part.backfill:
            size = batch_size_of(item)
            self._session_timeouts(part, opts)
            started = _now()
            t0 = time.perf_counter()
            try:
                stats = backfill.run_backfill(
                    self.conn, mset.version, item, batch_size=size,
                    retry=lambda work: with_lock_retry(work, retries=opts.ddl_retries))
            except psycopg.Error as exc:
                ledger.write_log(self.conn, opts.run_id, [ledger.LogEntry(
                    mset.version, "backfill", 0, backfill.describe(item, size), "error", started,
                    (time.perf_counter() - t0) * 1000, 1, pg_message(exc))])
                raise MigrationFailed(f"backfill {item.name} on {item.table} failed: {pg_message(exc)}",
                                      version=mset.version, path=mset.manifest.path or mset.path) from exc
            finally:
                self._reset_session_timeouts()
            resumed = f", resumed after key {stats.resumed_from}" if stats.resumed_from else ""
            ledger.write_log(self.conn, opts.run_id, [ledger.LogEntry(
                mset.version, "backfill", 0, backfill.describe(item, size) + f"\n-- {stats.rows} rows in "
                f"{stats.batches} batches{resumed}", "ok", started, (time.perf_counter() - t0) * 1000)])
            queries.append(backfill.describe(item, size))

    # ---- validation ------------------------------------------------------------------------------------------------

    def validate(self, migration_set: MigrationSet, opts: RunOptions) -> None:
        part = migration_set.postgres
        if part is None or not part.verify_sql or migration_set.version in self._verified:
            return
        started = _now()
        t0 = time.perf_counter()
        try:
            rows = self._verify_rows(migration_set)
        except psycopg.Error as exc:
            raise ValidationFailed(f"verification query failed: {pg_message(exc)}", version=migration_set.version,
                                   path=self._path(migration_set, "verify")) from exc
        error = self._verify_error(migration_set, rows) if rows else None
        ledger.write_log(self.conn, opts.run_id, [ledger.LogEntry(
            migration_set.version, "verify", 0, part.verify_sql, "error" if error else "ok", started,
            (time.perf_counter() - t0) * 1000, 1, str(error) if error else None)])
        if error:
            raise error
        self._verified.add(migration_set.version)

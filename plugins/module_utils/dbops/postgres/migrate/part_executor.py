"""The PostgreSQL part of migration sets: apply, verify, roll back, with the ledger in schema dbops.

A part without statements that refuse a transaction block runs in ONE transaction together with its ledger
row and statement log (and its verification), so it is applied completely or not at all
(single_transaction_runner.py). Otherwise it runs as segments (segment_runner.py): each group of ordinary
statements in a transaction, each non-transactional statement alone, every segment recording its statements as
done in dbops.statement_progress in the same transaction, so a rerun resumes with the first statement not done.

This class only orchestrates: the connection, the runner lock, the ledger layout, and which runner runs a part.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    IrreversibleMigration,
    MigrationFailed,
    ValidationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.baseline import Baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import LedgerEntry, RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.takeover import plan_baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    connect,
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import (
    advisory_lock,
    ledger,
    ledger_layout,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill_runner import (
    planned_backfills,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.baseline_record import record_baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.guard_application import (
    guard_apply,
    warn_destructive_rollback,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.online_change_runner import (
    missing_revert,
    planned_online_changes,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.segment_runner import (
    SegmentRunner,
    needs_segments,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.single_transaction_runner import (
    run_in_one_transaction,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_cache import StatementCache
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.verification import (
    RAISING_VERIFY_FORMATS,
    verification_error,
)

# Kept importable from here: tests and older callers use these names.
statement_sha = ledger.statement_sha
__all__ = ["PostgresPartExecutor", "pg_message", "statement_sha"]

_MISSING_DOWN = {
    "golang-migrate": "no .down.sql file",
    "flyway": "no U (undo) file",
    "dbmate": "the -- migrate:down section has no SQL",
    "sqitch": "no revert/<change>.sql script",
}


class PostgresPartExecutor:
    """PartExecutor for PostgreSQL (see migrations/part_protocol.py for the protocol)."""

    name = "postgres"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None
        self._session: PartSession | None = None
        self._locked = False
        self._verified: set[str] = set()  # versions whose verification ran inside their transaction in this run
        self._statements = StatementCache()
        self._versions_with_progress: set[str] | None = None  # read once for planning
        self._ledger_ready = False
        self._layout_note: str | None = None  # check mode: the ledger upgrade a real run would do

    # ---- connection, lock, ledger layout -------------------------------------------------------------------------

    def connect(self) -> None:
        self.conn = connect(self.dsn)
        self._session = PartSession.on(self.conn)
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
        """The runner lock; then an existing ledger of an older layout is upgraded (only ever under this lock)."""
        advisory_lock.acquire(self.conn, wait_s)
        self._locked = True
        if ledger_layout.current_version(self.conn) >= 1:
            ledger.ensure_ledger(self.conn)
            self._ledger_ready = True

    def release_runner_lock(self) -> None:
        if self._locked:
            self._locked = False
            advisory_lock.release(self.conn)

    def _connected_session(self) -> PartSession:
        if self._session is None:
            raise MigrationFailed("the PostgreSQL executor is not connected: connect() must run before a part runs")
        return self._session

    def _ensure_ledger(self) -> None:
        """Create the ledger on first use (never in check mode: only apply/rollback/record_status call this)."""
        if not self._ledger_ready:
            ledger.ensure_ledger(self.conn)
            self._ledger_ready = True

    def ledger(self) -> dict[str, LedgerEntry]:
        version = ledger_layout.current_version(self.conn)
        entries = ledger.read_ledger(self.conn)  # refuses a layout newer than this code
        self._layout_note = ledger_layout.describe_pending(version) if version >= 1 else None
        return entries

    def notes(self) -> list[str]:
        return [self._layout_note] if self._layout_note else []

    def _report_pending_layout(self, opts: RunOptions) -> None:
        """Check mode reads an older ledger as it is; it says once that a real run will upgrade it."""
        if self._layout_note and self._layout_note not in opts.warnings:
            opts.warnings.append(self._layout_note)

    # ---- taking over another tool's history (postgres/adopt/) --------------------------------------------------------

    def plan_baseline(self, sets: list[MigrationSet], fmt: str, adopt: str, opts: RunOptions) -> Baseline:
        """What another tool applied that this ledger does not know yet; reads, never writes."""
        return plan_baseline(self.conn, choice=adopt, fmt=fmt, sets=sets, ledger=ledger.read_ledger(self.conn),
                             allow_drift=opts.allow_drift, warnings=opts.warnings)

    def record_baseline(self, baseline: Baseline, opts: RunOptions) -> None:
        """The baseline as applied rows of the ledger (under the runner lock, after every pre-flight check)."""
        self._ensure_ledger()
        record_baseline(self.conn, baseline, opts.run_id)
        baseline.recorded = True

    def has_part(self, migration_set: MigrationSet) -> bool:
        return migration_set.postgres is not None

    def statements(self, mset: MigrationSet, direction: str, opts: RunOptions):
        return self._statements.statements(mset, direction, opts)

    # ---- planning and pre-flight -----------------------------------------------------------------------------------

    def plan_apply(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self._report_pending_layout(opts)
        part = postgres_part(migration_set)
        statements = self.statements(migration_set, "up", opts)
        if self._done_for_plan(migration_set.version, "down"):
            raise MigrationFailed("a rollback of this set stopped part-way (some of postgres.down.sql ran): run the "
                                  "rollback again (state rolled_back) to finish it before applying the set",
                                  version=migration_set.version, path=part_path(migration_set, "down"))
        guard_apply(self.conn, migration_set, statements, opts)
        done = self._done_for_plan(migration_set.version, "up")
        planned = ([s.sql for s in statements if s.index not in done] + planned_backfills(migration_set, opts)
                   + planned_online_changes(self.conn, migration_set, "up", opts))
        if part.verify_sql:
            rule = "must not raise an error" if part.source_format in RAISING_VERIFY_FORMATS else "must return no rows"
            planned.append(f"-- verify: {rule}\n" + part.verify_sql.strip())
        return planned

    def plan_rollback(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self._report_pending_layout(opts)
        statements = self.statements(migration_set, "down", opts)
        warn_destructive_rollback(migration_set, statements, opts)
        done = self._done_for_plan(migration_set.version, "down")
        return (planned_online_changes(self.conn, migration_set, "down", opts)
                + [s.sql for s in statements if s.index not in done])

    def _done_for_plan(self, version: str, direction: str) -> set[int]:
        """Statements already done (resumable parts); one query for all sets, not one per set."""
        if self._versions_with_progress is None:
            self._versions_with_progress = ledger.versions_with_progress(self.conn)
        if version not in self._versions_with_progress:
            return set()
        return {seq for seq, row in ledger.read_progress(self.conn, version, direction).items()
                if row.status == "done"}

    def ensure_reversible(self, migration_set: MigrationSet) -> None:
        part = migration_set.postgres
        if part is not None and part.online_change:
            change = missing_revert(migration_set)
            if change is not None:
                raise IrreversibleMigration(f"cannot roll back: the online change of {change.table} has no revert; "
                                            "nothing was changed", version=migration_set.version,
                                            path=migration_set.manifest.path or migration_set.path)
            if not part.up_sql.strip():  # only online changes: their reverts are the whole rollback
                return
        if part is None or part.down_sql is not None:
            return
        missing = _MISSING_DOWN.get(part.source_format, "no postgres.down.sql")
        raise IrreversibleMigration(f"cannot roll back: {missing}; nothing was changed",
                                    version=migration_set.version, path=part.up_path or migration_set.path)

    # ---- apply / rollback ------------------------------------------------------------------------------------------

    def apply(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._run(migration_set, "up", opts, queries)

    def rollback(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self.ensure_reversible(migration_set)
        self._run(migration_set, "down", opts, queries)
        self._verified.discard(migration_set.version)

    def _run(self, mset: MigrationSet, direction: str, opts: RunOptions, queries: list[str]) -> None:
        self._ensure_ledger()
        statements = self.statements(mset, direction, opts)
        session = self._connected_session()
        if needs_segments(postgres_part(mset), statements, direction):
            SegmentRunner(session, mset, direction, opts).run(statements, queries)
        elif run_in_one_transaction(session, mset, statements, direction, opts, queries):
            self._verified.add(mset.version)

    def record_status(self, migration_set: MigrationSet, status: str, *, error: str | None = None) -> None:
        try:
            self._ensure_ledger()
            if not ledger.set_status(self.conn, migration_set.version, status, error):
                ledger.record_status(self.conn, version=migration_set.version, name=migration_set.slug,
                                     checksum=postgres_part(migration_set).checksum, status=status, run_id="-",
                                     error=error)
        except psycopg.Error as exc:
            raise MigrationFailed(f"cannot record status {status} in the ledger: {pg_message(exc)}",
                                  version=migration_set.version) from exc

    # ---- validation ------------------------------------------------------------------------------------------------

    def rule_checker(self) -> Any:
        """Read-only checks of migration.yml's validate: rules on this connection (postgres/validation)."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.validation.rule_checker import (
            PostgresRuleChecker,
        )

        return PostgresRuleChecker(self.conn)

    def validate(self, migration_set: MigrationSet, opts: RunOptions) -> None:
        part = migration_set.postgres
        if part is None or not part.verify_sql or migration_set.version in self._verified:
            return
        started = now()
        t0 = time.perf_counter()
        try:
            error = verification_error(self.conn, migration_set)
        except psycopg.Error as exc:
            raise ValidationFailed(f"verification query failed: {pg_message(exc)}", version=migration_set.version,
                                   path=part_path(migration_set, "verify")) from exc
        ledger.write_log(self.conn, opts.run_id, [ledger.LogEntry(
            migration_set.version, "verify", 0, part.verify_sql, "error" if error else "ok", started,
            (time.perf_counter() - t0) * 1000, 1, str(error) if error else None)])
        if error:
            raise error
        self._verified.add(migration_set.version)

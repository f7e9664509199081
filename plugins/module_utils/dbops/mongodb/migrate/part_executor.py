"""The MongoDB part of migration sets: apply, validate, roll back, with the ledger in dbops_migrations.

This file only orchestrates; each idea has its own file:
- runner_connection.py: connection, topology, runner lock, batch settings;
- ledger_layout.py: the ledger collections' layout, upgraded under the runner lock (never in check mode);
- part_loader.py: a part declared (parsed, never run: what planning sees) or runnable (refused in check mode);
- yaml_part_runner.py: a declarative part, each operation's inverse recorded before it runs, undone from the records;
- python_part_runner.py: a code part, up(db, ctx), down(db, ctx) if up() raises, validate(db, ctx) read-only;
- part_failure.py: undoing a failed part and recording FAILED or PARTIAL;
- destructive_guard.py, validation_checks.py: what a part would destroy, the declarative checks.

A runner killed part-way leaves the part RUNNING; the next run resumes it (operations done are skipped, batched
ones continue after their checkpoint) or compensates it (on_partial), from the records.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    HALF_DONE,
    PARTIAL,
    ROLLED_BACK,
    RUNNING,
    LedgerEntry,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import (
    ledger,
    ledger_layout,
    progress,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.destructive_guard import (
    python_findings,
    refuse_or_allow,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import LAYOUT
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import DEFAULT_TTL_S
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_errors import part_error
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_failure import record_quietly
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_loader import (
    PartLoader,
    RunnablePart,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part_runner import (
    PythonPartRunner,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.runner_connection import (
    RunnerConnection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.validation_checks import (
    failed_checks,
    manifest_checks,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part import YamlPart
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part_runner import (
    YamlPartRunner,
)


class MongoPartExecutor:
    """PartExecutor for MongoDB (see migrations/part_protocol.py for the protocol)."""

    name = "mongodb"

    def __init__(self, uri: str, database: str, *, lock_ttl_s: float = DEFAULT_TTL_S,
                 timeout_ms: int = 10_000) -> None:
        self.lock_ttl_s = lock_ttl_s  # read when the lock is taken (tests shorten it)
        self.conn = RunnerConnection(uri, database, timeout_ms=timeout_ms)
        self.parts = PartLoader()
        self.yaml = YamlPartRunner(self.conn)
        self.code = PythonPartRunner(self.conn)

    @property
    def db(self) -> Any:  # a pymongo Database
        return self.conn.db

    # ---- connection, lock and ledger ---------------------------------------------------------------------------

    def connect(self) -> None:
        self.conn.open()

    def close(self) -> None:
        self.conn.close()

    def acquire_runner_lock(self, wait_s: float) -> None:
        self.conn.acquire_lock(wait_s, self.lock_ttl_s)
        upgraded = ledger_layout.upgrade(self.db)  # under the lock: the only place the layout changes
        if upgraded:
            self.conn.notes.append(f"MongoDB: upgraded {upgraded} ledger documents to layout {LAYOUT}")

    def release_runner_lock(self) -> None:
        self.conn.release_lock()

    def ledger(self) -> dict[str, LedgerEntry]:
        ledger_layout.refuse_newer(self.db)
        if self.conn.lock is None:  # check mode and state=status read an older layout as it is
            state = ledger_layout.inspect(self.db)
            if state.pending:
                self.conn.notes.append(state.describe_pending())
        return ledger.read_all(self.db)

    def notes(self) -> list[str]:
        notes, self.conn.notes = list(self.conn.notes), []
        return notes

    def has_part(self, migration_set: MigrationSet) -> bool:
        return migration_set.mongodb is not None

    # ---- planning and pre-flight -----------------------------------------------------------------------------------

    def plan_apply(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self.conn.flush_notes(opts)
        mset = migration_set
        declared = self.parts.declared(mset)
        checks = manifest_checks(mset)
        if isinstance(declared, YamlPart):
            lines, findings = self.yaml.plan(mset, declared, opts)
            checks = declared.checks + checks
        else:
            lines, findings = self.code.plan(declared, opts), python_findings(mongo_part(mset).source)
        refuse_or_allow(mset, findings, opts)
        if not opts.check_mode:
            self.parts.runnable(mset, opts)  # a file that fails to load is refused before anything changes
        return lines + [check.describe() for check in checks]

    def plan_rollback(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self.conn.flush_notes(opts)
        recorded = self.yaml.recorded_ops(migration_set)
        if recorded is not None:
            return self.yaml.plan_undo(recorded, None)
        declared = self.parts.declared(migration_set)
        if isinstance(declared, YamlPart):
            return self.yaml.plan_undo(None, declared)
        return self.code.plan_undo(declared, opts)

    def ensure_reversible(self, migration_set: MigrationSet) -> None:
        recorded = self.yaml.recorded_ops(migration_set)
        # A code part without down() is refused by its outline, naming the file.
        declared = None if recorded is not None else self.parts.declared(migration_set)
        self.yaml.ensure_reversible(migration_set, recorded, declared if isinstance(declared, YamlPart) else None)

    # ---- apply -----------------------------------------------------------------------------------------------------

    def _start(self, mset: MigrationSet, part: RunnablePart, opts: RunOptions) -> tuple[dict[str, Any], bool]:
        declared = mongo_part(mset)
        entry = ledger.read(self.db, mset.version)
        resume = (entry is not None and entry.get("status") in HALF_DONE
                  and (entry.get("checksum") == declared.checksum or opts.allow_drift))
        ops = self.yaml.ledger_ops(mset, part, entry if resume else None) if isinstance(part, YamlPart) else None
        record = ledger.start(self.db, version=mset.version, name=mset.slug, checksum=declared.checksum,
                              kind=declared.kind, run_id=opts.run_id, status=RUNNING, ops=ops, resume=resume,
                              extra=self.conn.run_facts())
        return record, resume

    def apply(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self.conn.flush_notes(opts)
        mset = migration_set
        part = self.parts.runnable(mset, opts)
        self.conn.require_primary(mset, opts)
        self.conn.check_lock()
        started = time.monotonic()
        record, resumed = self._start(mset, part, opts)
        if resumed:
            queries.append(f"// {mset.version}: resuming the MongoDB part left {record.get('status')} by an earlier "
                           "run")
        if isinstance(part, YamlPart):
            self.yaml.apply(mset, part, record, opts, queries)
        else:
            self.code.apply(mset, part, opts, queries)
        ledger.finish(self.db, mset.version, APPLIED, run_id=opts.run_id,
                      duration_ms=int((time.monotonic() - started) * 1000))
        progress.clear(self.db, mset.version, "up")

    # ---- validate --------------------------------------------------------------------------------------------------

    def rule_checker(self) -> Any:
        """Read-only checks of migration.yml's validate: rules (mongodb/validation)."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.validation.rule_checker import (
            MongoRuleChecker,
        )

        return MongoRuleChecker(self.db)

    def validate(self, migration_set: MigrationSet, opts: RunOptions) -> None:
        mset = migration_set
        part = self.parts.runnable(mset, opts)
        checks = manifest_checks(mset)
        problems: list[str] = []
        if isinstance(part, YamlPart):
            checks = part.checks + checks
        else:
            problem = self.code.validate(mset, part, opts)
            problems += [problem] if problem else []
        problems += failed_checks(checks, self.db)
        if problems:
            raise ValidationFailed("MongoDB validation failed: " + "; ".join(problems), version=mset.version,
                                   path=mongo_part(mset).path)

    # ---- rollback --------------------------------------------------------------------------------------------------

    def rollback(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self.conn.flush_notes(opts)
        mset = migration_set
        self.ensure_reversible(mset)
        self.conn.require_primary(mset, opts)
        self.conn.check_lock()
        started = time.monotonic()
        entry = ledger.read(self.db, mset.version)
        if entry is not None:
            # Killed while undoing, the part must not look applied: RUNNING makes the next run resume or compensate.
            ledger.set_status(self.db, mset.version, RUNNING, run_id=opts.run_id, note="rolling back")
        try:
            if mongo_part(mset).kind == "yaml" or (entry is not None and entry.get("kind") == "yaml"):
                self.yaml.undo(mset, opts, queries)
            elif entry is not None:
                self.code.undo(mset, self.parts.runnable_code(mset, opts), opts, queries)
        except Exception as exc:
            error = part_error(mset, exc, "rollback failed: ")
            record_quietly(self.db, mset, PARTIAL, opts, error.message)
            raise error from exc
        ledger.finish(self.db, mset.version, ROLLED_BACK, run_id=opts.run_id,
                      duration_ms=int((time.monotonic() - started) * 1000))
        progress.clear(self.db, mset.version)
        progress.forget_touched(self.db, mset.version)

    def record_status(self, migration_set: MigrationSet, status: str, *, error: str | None = None) -> None:
        part = mongo_part(migration_set)
        ledger.record_status(self.db, version=migration_set.version, name=migration_set.slug,
                             checksum=part.checksum, kind=part.kind, status=status, error=error)

"""The MongoDB part of migration sets: apply, validate, roll back, with the ledger in dbops_migrations.

A declarative part (mongodb.yml) runs its operations in order. Before each operation changes anything, its
inverse (computed from what is there) is written to the ledger; row-level operations also record, batch by
batch, which documents they changed. If an operation fails, the operations done so far are undone in reverse
order from those records and the part is FAILED with nothing left behind. A runner killed part-way leaves the
part RUNNING; the next run resumes it (operations done are skipped, batched ones continue after their
checkpoint) or compensates it (on_partial), again from the records.

A code part (mongodb.py) runs up(db, ctx); if up() raises, down(db, ctx) undoes it. Its batched loops
(ctx.each_batch) checkpoint like the declarative ones, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    ConnectionFailed,
    DbopsError,
    DestructiveChangeRefused,
    IrreversibleMigration,
    MigrationFailed,
    MigrationFormatError,
    ValidationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    FAILED,
    HALF_DONE,
    PARTIAL,
    ROLLED_BACK,
    RUNNING,
    LedgerEntry,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import topology
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    UNAUTHORIZED,
    bson,
    connect,
    describe_error,
    hosts_of,
    pymongo_errors,
    redact_uri,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import ledger, progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import BatchEnv
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.destructive_guard import (
    python_findings,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import (
    DEFAULT_TTL_S,
    LockLost,
    RunnerLock,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.migration_context import (
    MigrationContext,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import (
    OpEnv,
    Operation,
    SpecError,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part import (
    PythonPart,
    load_python_part,
    user_line,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.read_only_db import ReadOnlyDatabase
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.validation_checks import (
    Check,
    parse_checks,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part import (
    YamlPart,
    build_operation,
    parse_yaml_part,
)

if bson is not None:
    from bson import json_util

    _EJSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=False)
else:  # pragma: no cover
    json_util = None
    _EJSON = None

_UNDOABLE = (ledger.OP_PREPARED, ledger.OP_DONE)


def to_ejson(value: Any) -> str | None:
    """Operation arguments and inverses are kept as Extended JSON text: types survive (ObjectId, dates), and
    keys such as "$jsonSchema" or "a.b" never meet the server's field-name rules."""
    return None if value is None else json_util.dumps(value, json_options=_EJSON)


def from_ejson(text: str | None) -> Any:
    return None if text is None else json_util.loads(text, json_options=_EJSON)


def _short(exc: BaseException) -> str:
    if isinstance(exc, DbopsError):
        return exc.message
    if pymongo_errors is not None and isinstance(exc, pymongo_errors.PyMongoError):
        return describe_error(exc)
    return redact_uri(f"{type(exc).__name__}: {exc}")


class MongoPartExecutor:
    """PartExecutor for MongoDB (see migrations/part_executor.py for the protocol)."""

    name = "mongodb"

    def __init__(self, uri: str, database: str, *, lock_ttl_s: float = DEFAULT_TTL_S,
                 timeout_ms: int = 10_000) -> None:
        self.uri = uri
        self.database = database
        self.lock_ttl_s = lock_ttl_s
        self.timeout_ms = timeout_ms
        self.client: Any = None
        self.db: Any = None
        self.topology: topology.Topology | None = None
        self.lock: RunnerLock | None = None
        self._notes: list[str] = []  # warnings found before a call that has opts (lock takeover)
        self._parts: dict[tuple[str, str], YamlPart | PythonPart] = {}
        self._preflight_done = False

    # ---- connection and lock -----------------------------------------------------------------------------------

    def connect(self) -> None:
        self.client = connect(self.uri, timeout_ms=self.timeout_ms)
        self.db = self.client[self.database]
        where = hosts_of(self.uri)
        try:
            # Proves the credentials may read this database (a ping passes without them on most servers).
            self.db.list_collection_names(filter={"name": ledger.COLLECTION})
            self.topology = topology.detect(self.client)
        except pymongo_errors.OperationFailure as exc:
            self.close()
            if exc.code == UNAUTHORIZED:
                raise ConnectionFailed(f"MongoDB at {where} refused access to database {self.database}: "
                                       f"{describe_error(exc)} (check the user and its roles)") from exc
            raise ConnectionFailed(f"MongoDB at {where}: {describe_error(exc)}") from exc
        except pymongo_errors.PyMongoError as exc:
            self.close()
            raise ConnectionFailed(f"cannot reach MongoDB at {where}: {describe_error(exc)}") from exc

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(pymongo_errors.PyMongoError):  # it expires by itself
                self.release_runner_lock()
            self.client.close()
            self.client = None
            self.db = None

    def acquire_runner_lock(self, wait_s: float) -> None:
        self.lock = RunnerLock(self.db, ttl_s=self.lock_ttl_s)
        try:
            self.lock.acquire(wait_s)
        except pymongo_errors.PyMongoError as exc:
            raise MigrationFailed(f"taking the MongoDB migration lock failed: {describe_error(exc)}") from exc
        if self.lock.taken_over:
            held = self.lock.taken_over
            self._notes.append(f"MongoDB: took over the migration lock of runner {held.get('owner')} (expired at "
                               f"{held.get('expires_at')}); that runner had crashed or stopped renewing it")

    def release_runner_lock(self) -> None:
        if self.lock is not None:
            lock, self.lock = self.lock, None
            lock.release()

    def _check_lock(self) -> None:
        if self.lock is not None:
            self.lock.check()

    def _flush_notes(self, opts: RunOptions) -> None:
        for note in self._notes:
            if note not in opts.warnings:
                opts.warnings.append(note)
        self._notes.clear()

    def ledger(self) -> dict[str, LedgerEntry]:
        return ledger.read_all(self.db)

    def has_part(self, migration_set: MigrationSet) -> bool:
        return migration_set.mongodb is not None

    # ---- loading -------------------------------------------------------------------------------------------------

    def load(self, mset: MigrationSet) -> YamlPart | PythonPart:
        part = mset.mongodb
        key = (mset.version, part.checksum)
        if key not in self._parts:
            if part.kind == "python":
                self._parts[key] = load_python_part(part.source, part.path, mset.version)
            else:
                self._parts[key] = parse_yaml_part(part.source, part.path, mset.version)
        return self._parts[key]

    def _manifest_checks(self, mset: MigrationSet) -> list[Check]:
        raw = (mset.manifest.validate or {}).get("mongodb")
        try:
            return parse_checks(raw)
        except SpecError as exc:
            raise MigrationFormatError(f"validate.mongodb: {exc}", version=mset.version,
                                       path=mset.manifest.path or mset.path) from exc

    def _batch_env(self, mset: MigrationSet, part: YamlPart | PythonPart, direction: str, opts: RunOptions, *,
                   dry_run: bool = False) -> BatchEnv:
        if isinstance(part, YamlPart):
            size, pause_ms = part.settings.batch_size, part.settings.pause_ms
        else:
            size, pause_ms = part.batch_size or 1000, part.pause_ms
        return BatchEnv(db=self.db, version=mset.version, direction=direction, batch_size=opts.batch_size or size,
                        pause_s=pause_ms / 1000.0, transactions=bool(self.topology and self.topology.transactions),
                        check_lock=self._check_lock, dry_run=dry_run)

    def _op_env(self, mset: MigrationSet, part: YamlPart, index: int, opts: RunOptions, queries: list[str]) -> OpEnv:
        return OpEnv(db=self.db, version=mset.version, index=index,
                     batch=lambda direction: self._batch_env(mset, part, direction, opts),
                     transactions=bool(self.topology and self.topology.transactions), queries=queries,
                     warnings=opts.warnings, allow_destructive=opts.allow_destructive)

    # ---- planning and pre-flight -----------------------------------------------------------------------------------

    def _guard(self, mset: MigrationSet, part: YamlPart | PythonPart, opts: RunOptions,
               skip: set[int] | None = None) -> None:
        findings: list[str] = []
        if isinstance(part, YamlPart):
            for i, op in enumerate(part.operations):
                if skip and i in skip:
                    continue
                env = self._op_env(mset, part, i, opts, [])
                findings += [f"operation {i + 1}: {f}" for f in op.destructive(env)]
        else:
            findings += python_findings(mset.mongodb.source)
        if mset.manifest.destructive and mset.postgres is None:
            findings.append("migration.yml declares destructive: true")
        if not findings:
            return
        if not opts.allow_destructive:
            raise DestructiveChangeRefused("destructive change refused (allow_destructive is off): "
                                           + "; ".join(findings), version=mset.version, path=mset.mongodb.path)
        opts.warnings.append(f"{mset.version} ({mset.mongodb.path}): destructive change allowed: "
                             + "; ".join(findings))

    def _done_ops(self, mset: MigrationSet) -> dict[int, dict[str, Any]]:
        entry = ledger.read(self.db, mset.version)
        if entry is None or entry.get("status") not in HALF_DONE or entry.get("checksum") != mset.mongodb.checksum:
            return {}
        return dict(enumerate(entry.get("ops") or []))

    def plan_apply(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self._flush_notes(opts)
        part = self.load(migration_set)
        recorded = self._done_ops(migration_set)
        done = {i for i, rec in recorded.items() if rec.get("state") == ledger.OP_DONE}
        self._guard(migration_set, part, opts, skip=done)
        checks = self._manifest_checks(migration_set)
        if isinstance(part, YamlPart):
            lines = []
            for i, op in enumerate(part.operations):
                if i in done:
                    continue
                resumed = " // resumed" if recorded.get(i, {}).get("state") == ledger.OP_PREPARED else ""
                lines.append(op.describe() + resumed)
            checks = part.checks + checks
        else:
            size = opts.batch_size or part.batch_size or 1000
            lines = [f"// run up(db, ctx) of {part.path.name} (batch size {size}, pause {part.pause_ms} ms"
                     f"{', transactions' if self.topology and self.topology.transactions else ', no transactions'})"]
            if opts.check_mode and part.dry_run_safe:
                lines += self._dry_run(migration_set, part, opts)
            lines.append(f"// then validate(db, ctx) of {part.path.name}" if part.validate else "")
            lines = [line for line in lines if line]
        return lines + [check.describe() for check in checks]

    def _dry_run(self, mset: MigrationSet, part: PythonPart, opts: RunOptions) -> list[str]:
        log: list[str] = []
        env = self._batch_env(mset, part, "up", opts, dry_run=True)
        try:
            part.up(ReadOnlyDatabase(self.db), MigrationContext(env, log))
        except DbopsError as exc:
            raise type(exc)(f"dry run of up() failed: {exc.message}", version=mset.version,
                            path=part.path) from exc
        except Exception as exc:
            raise MigrationFailed(f"dry run of up() failed: {_short(exc)}{user_line(exc, part.path)}",
                                  version=mset.version, path=part.path) from exc
        return log

    def _recorded_ops(self, mset: MigrationSet) -> list[tuple[int, Operation, dict[str, Any]]] | None:
        """(index, operation rebuilt from the ledger's arguments, record) of a declarative part, or None."""
        entry = ledger.read(self.db, mset.version)
        if entry is None or entry.get("kind") != "yaml" or "ops" not in entry:
            return None
        ops = []
        for i, rec in enumerate(entry["ops"]):
            try:
                op = build_operation(rec["kind"], from_ejson(rec["args"]))
            except SpecError as exc:  # written by this engine: only a newer engine's record could do this
                raise MigrationFailed(f"the ledger's record of operation {i + 1} cannot be read: {exc}",
                                      version=mset.version, path=mset.mongodb.path) from exc
            ops.append((i, op, rec))
        return ops

    def plan_rollback(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        self._flush_notes(opts)
        recorded = self._recorded_ops(migration_set)
        if recorded is not None:
            return [op.describe_undo(from_ejson(rec.get("inverse"))) for i, op, rec in reversed(recorded)
                    if rec.get("state") in _UNDOABLE]
        part = self.load(migration_set)
        if isinstance(part, YamlPart):
            return [op.describe_undo(None) for op in reversed(part.operations)]
        return [f"// run down(db, ctx) of {part.path.name}"]

    def ensure_reversible(self, migration_set: MigrationSet) -> None:
        recorded = self._recorded_ops(migration_set)
        if recorded is not None:
            for i, op, rec in recorded:
                inverse = from_ejson(rec.get("inverse")) or {}
                if op.irreversible and rec.get("state") in _UNDOABLE and inverse.get("existed", True):
                    raise IrreversibleMigration(f"cannot roll back: operation {i + 1} ({op.describe()}) destroyed "
                                                "data; nothing was changed", version=migration_set.version,
                                                path=migration_set.mongodb.path)
            return
        part = self.load(migration_set)  # a code part without down() fails to load, naming the file
        if isinstance(part, YamlPart):
            for i, op in enumerate(part.operations):
                if op.irreversible:
                    raise IrreversibleMigration(f"cannot roll back: operation {i + 1} ({op.describe()}) is "
                                                "irreversible; nothing was changed", version=migration_set.version,
                                                path=migration_set.mongodb.path)

    # ---- apply -----------------------------------------------------------------------------------------------------

    def _require_primary(self, mset: MigrationSet, opts: RunOptions) -> None:
        topo = topology.detect(self.client)
        self.topology = topo
        if not self._preflight_done:
            self._preflight_done = True
            for note in topology.preflight_notes(self.client):
                if note not in opts.warnings:
                    opts.warnings.append(note)
        if not topo.writable_primary:
            raise MigrationFailed(f"the MongoDB server {hosts_of(self.uri)} is not a writable primary; connect to "
                                  "the replica set (or its primary)", version=mset.version, path=mset.mongodb.path)

    def _start(self, mset: MigrationSet, part: YamlPart | PythonPart, opts: RunOptions) -> tuple[dict, bool]:
        entry = ledger.read(self.db, mset.version)
        resume = (entry is not None and entry.get("status") in HALF_DONE
                  and (entry.get("checksum") == mset.mongodb.checksum or opts.allow_drift))
        ops = None
        if isinstance(part, YamlPart):
            if resume and len(entry.get("ops") or []) != len(part.operations):
                raise MigrationFailed("cannot resume: the half-applied part had a different list of operations; "
                                      "compensate it first (on_partial: compensate)", version=mset.version,
                                      path=mset.mongodb.path)
            ops = [{"index": i, "kind": kind, "summary": op.describe(), "args": to_ejson(args), "inverse": None,
                    "state": ledger.OP_PENDING}
                   for i, ((kind, args), op) in enumerate(zip(part.raw_operations, part.operations, strict=True))]
        extra: dict[str, Any] = {"topology": self.topology.to_dict() if self.topology else None,
                                 "db_user": _uri_user(self.uri)}
        if self.topology is not None and self.topology.last_write_ts is not None:
            extra["oplog_ts_before"] = self.topology.last_write_ts
        record = ledger.start(self.db, version=mset.version, name=mset.slug, checksum=mset.mongodb.checksum,
                              kind=mset.mongodb.kind, run_id=opts.run_id, status=RUNNING, ops=ops, resume=resume,
                              extra=extra)
        return record, resume

    def apply(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._flush_notes(opts)
        mset = migration_set
        part = self.load(mset)
        self._require_primary(mset, opts)
        self._check_lock()
        started = time.monotonic()
        record, resumed = self._start(mset, part, opts)
        if resumed:
            queries.append(f"// {mset.version}: resuming the MongoDB part left {record.get('status')} by an earlier "
                           "run")
        if isinstance(part, YamlPart):
            self._apply_yaml(mset, part, record, opts, queries, started)
        else:
            self._apply_python(mset, part, opts, queries, started)

    def _apply_yaml(self, mset: MigrationSet, part: YamlPart, record: dict, opts: RunOptions, queries: list[str],
                    started: float) -> None:
        states = [rec.get("state") for rec in record.get("ops") or []]
        inverses = [from_ejson(rec.get("inverse")) for rec in record.get("ops") or []]
        current = None
        try:
            for i, op in enumerate(part.operations):
                current = i
                if states[i] == ledger.OP_DONE:
                    continue
                self._check_lock()
                env = self._op_env(mset, part, i, opts, queries)
                if states[i] != ledger.OP_PREPARED:
                    inverses[i] = op.prepare(env)
                    ledger.set_op(self.db, mset.version, i, inverse=to_ejson(inverses[i]), state=ledger.OP_PREPARED)
                    states[i] = ledger.OP_PREPARED
                queries.append(op.describe())
                op.execute(env, inverses[i])
                ledger.set_op(self.db, mset.version, i, state=ledger.OP_DONE)
                states[i] = ledger.OP_DONE
            self._check_lock()
        except Exception as exc:
            kind = part.operations[current].kind if current is not None else "?"
            error = self._error(mset, exc, f"operation {(current or 0) + 1} ({kind}) failed: ")
            self._after_failure(mset, error, exc, opts, lambda: self._undo_yaml(mset, part, opts, queries))
            raise error from exc
        ledger.finish(self.db, mset.version, APPLIED, run_id=opts.run_id,
                      duration_ms=int((time.monotonic() - started) * 1000))
        progress.clear(self.db, mset.version, "up")

    def _apply_python(self, mset: MigrationSet, part: PythonPart, opts: RunOptions, queries: list[str],
                      started: float) -> None:
        queries.append(f"// {mset.version}: up(db, ctx) of {part.path.name}")
        env = self._batch_env(mset, part, "up", opts)
        try:
            part.up(self.db, MigrationContext(env, queries))
            self._check_lock()
        except Exception as exc:
            error = self._error(mset, exc, "up() failed: ", part.path)
            self._after_failure(mset, error, exc, opts, lambda: self._down_python(mset, part, opts, queries))
            raise error from exc
        ledger.finish(self.db, mset.version, APPLIED, run_id=opts.run_id,
                      duration_ms=int((time.monotonic() - started) * 1000))
        progress.clear(self.db, mset.version, "up")

    def _error(self, mset: MigrationSet, exc: BaseException, prefix: str, path: Any = None) -> DbopsError:
        where = user_line(exc, path) if path is not None else ""
        if isinstance(exc, DbopsError):
            return type(exc)(prefix + exc.message + where, version=mset.version, path=mset.mongodb.path)
        return MigrationFailed(prefix + _short(exc) + where, version=mset.version, path=mset.mongodb.path)

    def _after_failure(self, mset: MigrationSet, error: DbopsError, cause: BaseException, opts: RunOptions,
                       undo) -> None:
        """Undo what the part did so far and record FAILED; PARTIAL (kept for resume/compensate) if undo fails.
        Without the runner lock nothing is undone: another runner may be working."""
        if isinstance(cause, LockLost):
            self._record_quietly(mset, PARTIAL, opts, error.message)
            return
        try:
            undo()
        except Exception as undo_exc:  # the original error is what the user must see; this is added to it
            error.message += f"; undoing the MongoDB part failed too ({_short(undo_exc)}): it is left partial"
            self._record_quietly(mset, PARTIAL, opts, error.message)
            return
        error.message += "; the MongoDB part was undone"
        self._record_quietly(mset, FAILED, opts, error.message)
        progress.clear(self.db, mset.version)

    def _record_quietly(self, mset: MigrationSet, status: str, opts: RunOptions, message: str) -> None:
        try:
            ledger.finish(self.db, mset.version, status, run_id=opts.run_id, error=message)
        except pymongo_errors.PyMongoError as exc:
            opts.warnings.append(f"{mset.version}: recording status {status} in the MongoDB ledger failed: "
                                 f"{describe_error(exc)}")

    # ---- validate --------------------------------------------------------------------------------------------------

    def validate(self, migration_set: MigrationSet, opts: RunOptions) -> None:
        mset = migration_set
        part = self.load(mset)
        problems: list[str] = []
        checks = self._manifest_checks(mset)
        if isinstance(part, YamlPart):
            checks = part.checks + checks
        elif part.validate is not None:
            # validate() only reads: its ctx keeps no checkpoints and commits nothing (ctx.dry_run is true).
            env = self._batch_env(mset, part, "validate", opts, dry_run=True)
            try:
                ok = part.validate(self.db, MigrationContext(env, []))
            except Exception as exc:
                raise ValidationFailed(f"validate() raised {_short(exc)}{user_line(exc, part.path)}",
                                       version=mset.version, path=part.path) from exc
            if not ok:
                problems.append(f"validate(db, ctx) returned {ok!r}")
        for check in checks:
            problem = check.run(self.db)
            if problem:
                problems.append(problem)
        if problems:
            raise ValidationFailed("MongoDB validation failed: " + "; ".join(problems), version=mset.version,
                                   path=mset.mongodb.path)

    # ---- rollback --------------------------------------------------------------------------------------------------

    def rollback(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._flush_notes(opts)
        mset = migration_set
        self.ensure_reversible(mset)
        self._require_primary(mset, opts)
        self._check_lock()
        started = time.monotonic()
        entry = ledger.read(self.db, mset.version)
        if entry is not None:
            # Killed while undoing, the part must not look applied: RUNNING makes the next run resume or compensate.
            ledger.set_status(self.db, mset.version, RUNNING, run_id=opts.run_id, note="rolling back")
        try:
            if mset.mongodb.kind == "yaml" or (entry is not None and entry.get("kind") == "yaml"):
                self._undo_yaml(mset, None, opts, queries)
            elif entry is not None:
                self._down_python(mset, self.load(mset), opts, queries)
        except Exception as exc:
            error = self._error(mset, exc, "rollback failed: ")
            self._record_quietly(mset, PARTIAL, opts, error.message)
            raise error from exc
        ledger.finish(self.db, mset.version, ROLLED_BACK, run_id=opts.run_id,
                      duration_ms=int((time.monotonic() - started) * 1000))
        progress.clear(self.db, mset.version)
        progress.forget_touched(self.db, mset.version)

    def _undo_yaml(self, mset: MigrationSet, part: YamlPart | None, opts: RunOptions, queries: list[str]) -> None:
        recorded = self._recorded_ops(mset) or []
        for i, op, rec in reversed(recorded):
            if rec.get("state") not in _UNDOABLE:
                continue
            self._check_lock()
            inverse = from_ejson(rec.get("inverse"))
            if inverse is None:
                continue
            env = OpEnv(db=self.db, version=mset.version, index=i,
                        batch=lambda direction: BatchEnv(db=self.db, version=mset.version, direction=direction,
                                                         batch_size=opts.batch_size or 1000, pause_s=0.0,
                                                         transactions=bool(self.topology and
                                                                           self.topology.transactions),
                                                         check_lock=self._check_lock),
                        transactions=bool(self.topology and self.topology.transactions), queries=queries,
                        warnings=opts.warnings)
            queries.append(op.describe_undo(inverse))
            op.undo(env, inverse)
            ledger.set_op(self.db, mset.version, i, state=ledger.OP_UNDONE)

    def _down_python(self, mset: MigrationSet, part: PythonPart, opts: RunOptions, queries: list[str]) -> None:
        queries.append(f"// {mset.version}: down(db, ctx) of {part.path.name}")
        env = self._batch_env(mset, part, "down", opts)
        try:
            part.down(self.db, MigrationContext(env, queries))
        except Exception as exc:
            raise self._error(mset, exc, "down() failed: ", part.path) from exc

    def record_status(self, migration_set: MigrationSet, status: str, *, error: str | None = None) -> None:
        ledger.record_status(self.db, version=migration_set.version, name=migration_set.slug,
                             checksum=migration_set.mongodb.checksum, kind=migration_set.mongodb.kind,
                             status=status, error=error)


def _uri_user(uri: str) -> str | None:
    rest = uri.split("://", 1)[-1].split("/", 1)[0]
    if "@" not in rest:
        return None
    return rest.rsplit("@", 1)[0].split(":", 1)[0] or None

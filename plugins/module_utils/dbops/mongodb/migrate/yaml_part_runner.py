"""Running a declarative part (mongodb.yml): its operations in order, each one's inverse recorded in the ledger
BEFORE the change; undone in reverse order from those records (not from the file, which may have changed)."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    IrreversibleMigration,
    MigrationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import HALF_DONE, RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.ejson_text import (
    from_ejson,
    to_ejson,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import (
    OpEnv,
    Operation,
    SpecError,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_errors import part_error
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_failure import (
    undo_after_failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.runner_connection import (
    RunnerConnection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part import (
    YamlPart,
    build_operation,
)

_UNDOABLE = (ledger.OP_PREPARED, ledger.OP_DONE)
Recorded = list[tuple[int, Operation, dict[str, Any]]]


class YamlPartRunner:
    def __init__(self, conn: RunnerConnection) -> None:
        self.conn = conn

    def _op_env(self, mset: MigrationSet, index: int, opts: RunOptions, queries: list[str],
                part: YamlPart | None = None) -> OpEnv:
        settings = part.settings if part is not None else None

        def batch(direction: str):
            if settings is None:  # undoing from the ledger: the file's settings may be gone
                return self.conn.batch_env(mset.version, direction, opts)
            return self.conn.batch_env(mset.version, direction, opts, batch_size=settings.batch_size,
                                       pause_ms=settings.pause_ms)

        return OpEnv(db=self.conn.db, version=mset.version, index=index, batch=batch,
                     transactions=self.conn.transactions, queries=queries, warnings=opts.warnings,
                     allow_destructive=opts.allow_destructive)

    # ---- planning -------------------------------------------------------------------------------------------------

    def _done_ops(self, mset: MigrationSet) -> dict[int, dict[str, Any]]:
        entry = ledger.read(self.conn.db, mset.version)
        if (entry is None or entry.get("status") not in HALF_DONE
                or entry.get("checksum") != mongo_part(mset).checksum):
            return {}
        return dict(enumerate(entry.get("ops") or []))

    def plan(self, mset: MigrationSet, part: YamlPart, opts: RunOptions) -> tuple[list[str], list[str]]:
        """(the operations still to run, what each would destroy) on the database as it is."""
        recorded = self._done_ops(mset)
        lines, findings = [], []
        for i, op in enumerate(part.operations):
            state = recorded.get(i, {}).get("state")
            if state == ledger.OP_DONE:
                continue
            findings += [f"operation {i + 1}: {f}" for f in op.destructive(self._op_env(mset, i, opts, [], part))]
            lines.append(op.describe() + (" // resumed" if state == ledger.OP_PREPARED else ""))
        return lines, findings

    def recorded_ops(self, mset: MigrationSet) -> Recorded | None:
        """(index, operation rebuilt from the ledger's arguments, record) of a declarative part, or None."""
        entry = ledger.read(self.conn.db, mset.version)
        if entry is None or entry.get("kind") != "yaml" or "ops" not in entry:
            return None
        ops = []
        for i, rec in enumerate(entry["ops"]):
            try:
                op = build_operation(rec["kind"], from_ejson(rec["args"]))
            except SpecError as exc:  # written by this engine: only a newer engine's record could do this
                raise MigrationFailed(f"the ledger's record of operation {i + 1} cannot be read: {exc}",
                                      version=mset.version, path=mongo_part(mset).path) from exc
            ops.append((i, op, rec))
        return ops

    def plan_undo(self, recorded: Recorded | None, part: YamlPart | None) -> list[str]:
        if recorded is not None:
            return [op.describe_undo(from_ejson(rec.get("inverse"))) for _i, op, rec in reversed(recorded)
                    if rec.get("state") in _UNDOABLE]
        return [op.describe_undo(None) for op in reversed(part.operations)] if part is not None else []

    def ensure_reversible(self, mset: MigrationSet, recorded: Recorded | None, part: YamlPart | None) -> None:
        if recorded is not None:
            for i, op, rec in recorded:
                inverse = from_ejson(rec.get("inverse")) or {}
                if op.irreversible and rec.get("state") in _UNDOABLE and inverse.get("existed", True):
                    raise IrreversibleMigration(f"cannot roll back: operation {i + 1} ({op.describe()}) destroyed "
                                                "data; nothing was changed", version=mset.version,
                                                path=mongo_part(mset).path)
            return
        for i, op in enumerate(part.operations if part is not None else []):
            if op.irreversible:
                raise IrreversibleMigration(f"cannot roll back: operation {i + 1} ({op.describe()}) is "
                                            "irreversible; nothing was changed", version=mset.version,
                                            path=mongo_part(mset).path)

    # ---- apply and undo ---------------------------------------------------------------------------------------------

    @staticmethod
    def ledger_ops(mset: MigrationSet, part: YamlPart, resumed_entry: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The operations as the ledger records them before the first one runs."""
        if resumed_entry is not None and len(resumed_entry.get("ops") or []) != len(part.operations):
            raise MigrationFailed("cannot resume: the half-applied part had a different list of operations; "
                                  "compensate it first (on_partial: compensate)", version=mset.version,
                                  path=mongo_part(mset).path)
        return [{"index": i, "kind": kind, "summary": op.describe(), "args": to_ejson(args), "inverse": None,
                 "state": ledger.OP_PENDING}
                for i, ((kind, args), op) in enumerate(zip(part.raw_operations, part.operations, strict=True))]

    def apply(self, mset: MigrationSet, part: YamlPart, record: dict, opts: RunOptions, queries: list[str]) -> None:
        db = self.conn.db
        states = [rec.get("state") for rec in record.get("ops") or []]
        inverses = [from_ejson(rec.get("inverse")) for rec in record.get("ops") or []]
        current = None
        try:
            for i, op in enumerate(part.operations):
                current = i
                if states[i] == ledger.OP_DONE:
                    continue
                self.conn.check_lock()
                env = self._op_env(mset, i, opts, queries, part)
                if states[i] != ledger.OP_PREPARED:
                    inverses[i] = op.prepare(env)
                    ledger.set_op(db, mset.version, i, inverse=to_ejson(inverses[i]), state=ledger.OP_PREPARED)
                    states[i] = ledger.OP_PREPARED
                queries.append(op.describe())
                op.execute(env, inverses[i])
                ledger.set_op(db, mset.version, i, state=ledger.OP_DONE)
                states[i] = ledger.OP_DONE
            self.conn.check_lock()
        except Exception as exc:
            kind = part.operations[current].kind if current is not None else "?"
            error = part_error(mset, exc, f"operation {(current or 0) + 1} ({kind}) failed: ")
            undo_after_failure(db, mset, error, exc, opts, lambda: self.undo(mset, opts, queries))
            raise error from exc

    def undo(self, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        for i, op, rec in reversed(self.recorded_ops(mset) or []):
            if rec.get("state") not in _UNDOABLE:
                continue
            self.conn.check_lock()
            inverse = from_ejson(rec.get("inverse"))
            if inverse is None:
                continue
            queries.append(op.describe_undo(inverse))
            op.undo(self._op_env(mset, i, opts, queries), inverse)
            ledger.set_op(self.conn.db, mset.version, i, state=ledger.OP_UNDONE)

"""Running a code part (mongodb.py): up(db, ctx), and down(db, ctx) if up() raises or on rollback.

Planning works on the outline only (python_part_outline.py) and says so: check mode runs none of the file, so
its plan names what would run instead of what it would change.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.migration_context import (
    MigrationContext,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_errors import (
    part_error,
    short_error,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_failure import (
    undo_after_failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part import (
    PythonPart,
    user_line,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part_outline import (
    PythonPartOutline,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.read_only_db import ReadOnlyDatabase
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.runner_connection import (
    DEFAULT_BATCH_SIZE,
    RunnerConnection,
)

NOT_RUN = "not executed in check mode: neither the file's top level nor {what} ran, so what it changes is unknown"


class PythonPartRunner:
    def __init__(self, conn: RunnerConnection) -> None:
        self.conn = conn

    def _ctx(self, mset: MigrationSet, part: PythonPart, direction: str, opts: RunOptions, log: list[str], *,
             dry_run: bool = False) -> MigrationContext:
        env = self.conn.batch_env(mset.version, direction, opts, batch_size=part.outline.batch_size,
                                  pause_ms=part.outline.pause_ms, dry_run=dry_run)
        return MigrationContext(env, log)

    # ---- planning -------------------------------------------------------------------------------------------------

    def plan(self, outline: PythonPartOutline, opts: RunOptions) -> list[str]:
        name = outline.path.name
        size = opts.batch_size or outline.batch_size or DEFAULT_BATCH_SIZE
        mode = "transactions" if self.conn.transactions else "no transactions"
        lines = [f"// will run {name}:up(db, ctx) (batch size {size}, pause {outline.pause_ms} ms, {mode})"]
        if opts.check_mode:
            lines.append(f"// {name}: {NOT_RUN.format(what='up()')}")
            if outline.dry_run_safe:
                lines.append(f"// {name}: DRY_RUN_SAFE is ignored: check mode runs no migration code")
        if outline.has_validate:
            lines.append(f"// then {name}:validate(db, ctx)")
        return lines

    def plan_undo(self, outline: PythonPartOutline, opts: RunOptions) -> list[str]:
        name = outline.path.name
        lines = [f"// will run {name}:down(db, ctx)"]
        if opts.check_mode:
            lines.append(f"// {name}: {NOT_RUN.format(what='down()')}")
        return lines

    # ---- apply, undo, validate ---------------------------------------------------------------------------------------

    def apply(self, mset: MigrationSet, part: PythonPart, opts: RunOptions, queries: list[str]) -> None:
        queries.append(f"// {mset.version}: up(db, ctx) of {part.path.name}")
        try:
            part.up(self.conn.db, self._ctx(mset, part, "up", opts, queries))
            self.conn.check_lock()
        except Exception as exc:
            error = part_error(mset, exc, "up() failed: ", part.path)
            undo_after_failure(self.conn.db, mset, error, exc, opts, lambda: self.undo(mset, part, opts, queries))
            raise error from exc

    def undo(self, mset: MigrationSet, part: PythonPart, opts: RunOptions, queries: list[str]) -> None:
        queries.append(f"// {mset.version}: down(db, ctx) of {part.path.name}")
        try:
            part.down(self.conn.db, self._ctx(mset, part, "down", opts, queries))
        except Exception as exc:
            raise part_error(mset, exc, "down() failed: ", part.path) from exc

    def validate(self, mset: MigrationSet, part: PythonPart, opts: RunOptions) -> str | None:
        """None when validate() holds (or there is none), else the problem. validate() only reads: its db refuses
        writes and its ctx keeps no checkpoints and commits nothing (ctx.dry_run is true)."""
        if part.validate is None:
            return None
        try:
            ok = part.validate(ReadOnlyDatabase(self.conn.db),
                               self._ctx(mset, part, "validate", opts, [], dry_run=True))
        except Exception as exc:
            raise ValidationFailed(f"validate() raised {short_error(exc)}{user_line(exc, part.path)}",
                                   version=mset.version, path=part.path) from exc
        return None if ok else f"validate(db, ctx) returned {ok!r}"

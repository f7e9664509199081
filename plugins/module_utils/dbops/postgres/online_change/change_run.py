"""One online change from start (or from the phase a killed run reached) to its end.

Phases, each recorded in the transaction that completes it (state.py): shadow and trigger created (with the
state row: 'copying'), copy batches (the last key with each), 'copied', 'validated', the swap ('swapped', in the
swap's transaction), the NOT VALID constraints validated and ANALYZE ('done'). A failure before the swap drops
the shadow, the trigger and the state row: the original is left as it was, and a rerun starts afresh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import OnlineChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
    sql,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill import Pacing
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import with_lock_retry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change import state as change_state
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import (
    ColumnMap,
    column_map,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.copy import copy_rows
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.mirror_trigger import (
    function_statement,
    trigger_statement,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.names import (
    ChangeNames,
    change_names,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.refusals import (
    OnlineChangeRefused,
    refuse,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shadow import (
    drop_statements,
    shadow_statements,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shadow_check import (
    check_shadow,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import (
    TableMissing,
    TableShape,
    read_shape,
    read_shape_of,
    relation_oid,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.state import ChangeState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.swap import (
    swap_statements,
    validate_statement,
)

BatchRetry = Callable[[Callable[[int], Any], Callable[[int, BaseException, float], None]], Any]


@dataclass(frozen=True)
class ChangeTarget:
    """One direction of one declared change: the forward `alter`, or the rollback's `revert`."""

    change: OnlineChange
    direction: str  # up | down
    version: str
    path: str | Path | None

    @property
    def alter(self) -> tuple[str, ...]:
        return self.change.alter if self.direction == "up" else tuple(self.change.revert or ())

    @property
    def using(self) -> tuple[tuple[str, str], ...]:
        return self.change.using if self.direction == "up" else ()

    @property
    def row_name(self) -> str:
        return change_state.row_name(self.change.table, self.direction)

    @property
    def tag(self) -> str:
        return self.version if self.direction == "up" else f"{self.version}_r"

    def names(self, schema: str, table: str) -> ChangeNames:
        return change_names(schema, table, self.version, self.direction)


@dataclass
class ChangeOutcome:
    shape: TableShape | None = None
    names: ChangeNames | None = None
    rows_copied: int = 0
    rows_compared: int = 0
    resumed_from: list[str] | None = None
    already_done: bool = False


def planned_shape(conn: Any, target: ChangeTarget) -> TableShape | None:
    """The table's shape, refused when something cannot move; None when the table does not exist (yet)."""
    try:
        shape = read_shape(conn, target.change.table, own_trigger=target.names("", "").trigger)
    except TableMissing:
        return None
    state = change_state.read(conn, target.version, target.row_name) if _ledger(conn) else None
    if state is None:
        refuse(shape, version=target.version, path=target.path)
        _refuse_leftovers(conn, shape, target)
    return shape


def _ledger(conn: Any) -> bool:
    return bool(conn.execute("SELECT to_regclass('dbops.backfill_progress') IS NOT NULL").fetchone()[0])


def _refuse_leftovers(conn: Any, shape: TableShape, target: ChangeTarget) -> None:
    names = target.names(shape.schema, shape.name)
    for what, name in (("shadow table", names.shadow), ("old table", names.old)):
        if relation_oid(conn, shape.schema, name) is not None:
            raise OnlineChangeRefused(
                f"online change of {shape.qualified} refused, nothing was changed: {what} {shape.schema}.{name} "
                "already exists (from an earlier run of this set): drop it (a contract set) first",
                version=target.version, path=target.path)


def run_change(conn: Any, target: ChangeTarget, *, pacing: Pacing, retry: BatchRetry) -> ChangeOutcome:
    outcome = ChangeOutcome()
    state = change_state.read(conn, target.version, target.row_name)
    if state is not None and state.phase == "done":
        outcome.already_done = True
        return outcome
    try:
        shape = read_shape(conn, target.change.table, own_trigger=target.names("", "").trigger)
    except TableMissing as exc:
        raise MigrationFailed(f"online change: table {target.change.table} does not exist",
                              version=target.version, path=target.path) from exc
    names = target.names(shape.schema, shape.name)
    outcome.shape, outcome.names = shape, names
    if state is not None and state.phase == "swapped":
        _finish(conn, shape, state, target)
        return outcome
    if state is None:
        refuse(shape, version=target.version, path=target.path)
        _refuse_leftovers(conn, shape, target)
    else:
        outcome.resumed_from = state.last_key
        state = state.at(state.phase, resumes=state.resumes + 1)
    original = sql.Identifier(shape.schema, shape.name)
    shadow = sql.Identifier(shape.schema, names.shadow)
    try:
        if state is None:
            state = _create_shadow(conn, shape, names, target)
        shadow_oid = relation_oid(conn, shape.schema, names.shadow)
        if shadow_oid is None:
            raise MigrationFailed(f"online change of {shape.qualified}: its shadow table {names.shadow} is gone; "
                                  f"delete the row '{target.row_name}' of dbops.backfill_progress to start again",
                                  version=target.version, path=target.path)
        columns = column_map(shape, read_shape_of(conn, shadow_oid), target.using, version=target.version,
                             path=target.path)
        if state.phase == "copying":
            state, stats = copy_rows(conn, target.version, target.row_name, original, shadow, columns, state,
                                     pacing=pacing, retry=retry)
            outcome.rows_copied = stats.rows
        if state.phase == "copied":
            outcome.rows_compared, mismatch = check_shadow(conn, original, shadow, columns)
            if mismatch is not None:
                raise MigrationFailed(f"online change of {shape.qualified}: the shadow table does not match the "
                                      f"original ({mismatch.describe()})", version=target.version, path=target.path)
            state = state.at("validated")
            with conn.transaction():
                change_state.write(conn, target.version, target.row_name, state)
        state = _swap(conn, shape, shadow_oid, names, state, target)
    except Exception as exc:
        _drop_shadow(conn, shape, names, target)
        if isinstance(exc, psycopg.Error):
            raise MigrationFailed(f"online change of {shape.qualified} failed before its swap (the shadow table and "
                                  f"its trigger were dropped, the table is unchanged): {pg_message(exc)}",
                                  version=target.version, path=target.path) from exc
        raise
    _finish(conn, shape, state, target)
    return outcome


def forward_of(target: ChangeTarget) -> ChangeTarget:
    return ChangeTarget(target.change, "up", target.version, target.path)


def revert_needed(conn: Any, target: ChangeTarget) -> bool:
    """A rollback reverts a change only once its forward change swapped (or when the revert itself started): a
    forward change that failed or was killed before its swap left the table as it was."""
    if change_state.read(conn, target.version, target.row_name) is not None:
        return True
    forward = change_state.read(conn, target.version, forward_of(target).row_name)
    return forward is not None and forward.phase in ("swapped", "done")


def abandon_forward(conn: Any, target: ChangeTarget) -> list[str]:
    """The leftovers of a forward change stopped before its swap (a kill -9, then a rollback of the set): its
    shadow, trigger and state row dropped. Returns the statements run."""
    forward = forward_of(target)
    try:
        shape = read_shape(conn, target.change.table, own_trigger=forward.names("", "").trigger)
    except TableMissing:
        return []
    names = forward.names(shape.schema, shape.name)
    statements = drop_statements(shape, shape.schema, names.shadow, names.trigger, names.function)
    with conn.transaction():
        for statement in statements:
            conn.execute(statement)
        change_state.forget(conn, target.version, forward.row_name)
    return [s.as_string(conn) for s in statements]


def _create_shadow(conn: Any, shape: TableShape, names: ChangeNames, target: ChangeTarget) -> ChangeState:
    """The shadow, its mirror trigger and the state row, in one transaction: all there or none."""
    state = ChangeState("copying")
    with conn.transaction():
        for statement in shadow_statements(shape, names.shadow, target.alter):
            conn.execute(statement)
        shadow_oid = relation_oid(conn, shape.schema, names.shadow)
        columns: ColumnMap = column_map(shape, read_shape_of(conn, shadow_oid or 0), target.using,
                                        version=target.version, path=target.path)
        shadow = sql.Identifier(shape.schema, names.shadow)
        # The function runs as its owner (SECURITY DEFINER) with this transaction's search_path: pg_catalog first
        # and pg_temp last, so no object a writer creates can stand in for a built-in or a table it uses.
        conn.execute("SELECT set_config('search_path', 'pg_catalog, ' || current_setting('search_path') || "
                     "', pg_temp', true)")
        conn.execute(function_statement(names.function, shadow, columns))
        conn.execute(trigger_statement(names.trigger, sql.Identifier(shape.schema, shape.name), names.function))
        change_state.insert(conn, target.version, target.row_name, target.change.table, state)
    return state


def _swap(conn: Any, shape: TableShape, shadow_oid: int, names: ChangeNames, state: ChangeState,
          target: ChangeTarget) -> ChangeState:
    original = sql.Identifier(shape.schema, shape.name)

    def attempt(_number: int) -> ChangeState:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{target.change.lock_timeout_ms}ms")))
            conn.execute(sql.SQL("LOCK TABLE {}, {} IN ACCESS EXCLUSIVE MODE").format(
                original, sql.Identifier(shape.schema, names.shadow)))
            # Read again under the lock: a view or a foreign key added since the change started moves too.
            current = read_shape_of(conn, shape.oid, own_trigger=names.trigger)
            refuse(current, version=target.version, path=target.path)
            conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(names.trigger), original))
            conn.execute(sql.SQL("DROP FUNCTION {}()").format(sql.Identifier("dbops", names.function)))
            statements, pending = swap_statements(conn, current, shadow_oid, names.shadow, names.old, target.tag)
            for statement in statements:
                conn.execute(statement)
            swapped = state.at("swapped", pending_constraints=tuple(pending))
            change_state.write(conn, target.version, target.row_name, swapped)
        return swapped

    return with_lock_retry(attempt, retries=target.change.swap_retries)


def _finish(conn: Any, shape: TableShape, state: ChangeState, target: ChangeTarget) -> None:
    """After the swap: the NOT VALID foreign keys validated (SHARE UPDATE EXCLUSIVE: writes go on), ANALYZE."""
    for schema, table, constraint in state.pending_constraints:
        statement = validate_statement(schema, table, constraint)

        def validate(_attempt: int, pending: sql.Composable = statement) -> None:
            conn.execute(pending)

        with_lock_retry(validate, retries=target.change.swap_retries)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(shape.schema, shape.name)))
    with conn.transaction():
        change_state.write(conn, target.version, target.row_name, state.at("done", pending_constraints=()))


def _drop_shadow(conn: Any, shape: TableShape, names: ChangeNames, target: ChangeTarget) -> None:
    with contextlib.suppress(psycopg.Error), conn.transaction():
        for statement in drop_statements(shape, shape.schema, names.shadow, names.trigger, names.function):
            conn.execute(statement)
        change_state.forget(conn, target.version, target.row_name)

"""The shadow table: the original's definition (LIKE ... INCLUDING ALL), the change's ALTER actions applied while
it is empty, the original's storage options, and its outgoing foreign keys as NOT VALID (validated after the
swap, without blocking writes)."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import TableShape

SHADOW_OPTIONS = ("autovacuum_enabled = false", "toast.autovacuum_enabled = false")
SHADOW_OPTION_NAMES = ("autovacuum_enabled", "toast.autovacuum_enabled")


def table(schema: str, name: str) -> sql.Composable:
    return sql.Identifier(schema, name)


def shadow_statements(original: TableShape, shadow: str, alter: tuple[str, ...]) -> list[sql.Composable]:
    target = table(original.schema, shadow)
    statements: list[sql.Composable] = [
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(target, table(original.schema, original.name))]
    if original.options:
        statements.append(sql.SQL("ALTER TABLE {} SET ({})").format(
            target, sql.SQL(", ").join(sql.SQL(option) for option in original.options)))
    # No autovacuum on the shadow while it fills (the copy's inserts would start one): a worker holding its lock
    # when the swap asks for ACCESS EXCLUSIVE is only cancelled after deadlock_timeout (1 s by default), and the
    # swap, already holding the original, would stall every writer for that long. The swap turns it back on.
    statements.append(sql.SQL("ALTER TABLE {} SET ({})").format(target, sql.SQL(", ").join(
        sql.SQL(option) for option in SHADOW_OPTIONS)))
    # The author's actions, like postgres.up.sql: SQL as written, on the empty table (no rewrite, no wait).
    statements.extend(sql.SQL("ALTER TABLE {} {}").format(target, sql.SQL(action)) for action in alter)
    statements.extend(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
        target, sql.Identifier(fk.name), sql.SQL(fk.definition)) for fk in original.outgoing_fks)
    return statements


def drop_statements(original: TableShape | None, schema: str, shadow: str, trigger: str,
                    function: str) -> list[sql.Composable]:
    """Undo of a change that failed before its swap: the original is left as it was."""
    statements: list[sql.Composable] = []
    if original is not None:
        statements.append(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
            sql.Identifier(trigger), table(original.schema, original.name)))
    statements.append(sql.SQL("DROP FUNCTION IF EXISTS {}()").format(sql.Identifier("dbops", function)))
    statements.append(sql.SQL("DROP TABLE IF EXISTS {}").format(table(schema, shadow)))
    return statements

"""What an online change will run, as readable statements: the plan in check mode (nothing executed) and the
`queries` of a real run (the same texts)."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import OnlineChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.names import ChangeNames
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shadow import (
    shadow_statements,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import TableShape


def describe(conn: Any, change: OnlineChange, alter: tuple[str, ...], using: tuple[tuple[str, str], ...],
             shape: TableShape | None, names: ChangeNames, sizing: str) -> list[str]:
    """`shape` None: the table does not exist yet (the set's own statements create it before the change runs)."""
    table = shape.qualified if shape else change.table
    schema = shape.schema if shape else "<schema>"
    key = ", ".join(shape.primary_key) if shape else "<primary key>"
    filled = "; ".join(f"{column} = {expression}" for column, expression in using) or "the same columns"
    texts = [f"-- online change of {table}: shadow {schema}.{names.shadow} with the new definition, kept in step by "
             f"trigger {names.trigger} (function dbops.{names.function}), copied in {sizing} by keyset on "
             f"({key}), each batch checkpointed in dbops.backfill_progress; validated per key range (count and "
             f"md5); swapped in one transaction under lock_timeout {change.lock_timeout_ms} ms "
             f"({change.swap_retries} retries); the old table stays as {schema}.{names.old} for a contract set "
             "to drop"]
    if shape is not None:
        texts.extend(s.as_string(conn) for s in shadow_statements(shape, names.shadow, alter))
    else:
        texts.append(f"CREATE TABLE {schema}.{names.shadow} (LIKE {table} INCLUDING ALL)")
        texts.extend(f"ALTER TABLE {schema}.{names.shadow} {action}" for action in alter)
    texts.append(f"CREATE FUNCTION dbops.{names.function}() ... -- upserts each written row into the shadow "
                 f"({filled}), deletes by key")
    texts.append(f"CREATE TRIGGER {names.trigger} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
                 f"EXECUTE FUNCTION dbops.{names.function}()")
    # Shown to people (plans, the statement log), never executed.
    texts.append(f"INSERT INTO {schema}.{names.shadow} (<columns>) SELECT <values> FROM (SELECT * FROM "  # noqa: S608
                 f"{table} WHERE ({key}) > (<last key copied>) ORDER BY {key} LIMIT <batch> FOR SHARE) t "
                 "ON CONFLICT DO NOTHING")
    views = ", ".join(f"{v.schema}.{v.name}" for v in shape.views) if shape else ""
    fks = ", ".join(f"{fk.name} on {fk.table}" for fk in shape.incoming_fks) if shape else ""
    texts.append(f"-- swap: LOCK TABLE {table}, {schema}.{names.shadow} IN ACCESS EXCLUSIVE MODE; DROP TRIGGER "
                 f"{names.trigger}; ALTER TABLE {table} RENAME TO {names.old} (and its indexes); ALTER TABLE "
                 f"{schema}.{names.shadow} RENAME TO {shape.name if shape else table} (indexes take the original "
                 "names); owner, grants and owned sequences moved; "
                 f"views re-created: {views or 'none'}; incoming foreign keys re-added NOT VALID: {fks or 'none'}; "
                 "then VALIDATE CONSTRAINT and ANALYZE")
    return texts

"""A part's verification: a query that must return no rows, or (Sqitch's verify scripts) a script that must not
raise an error, whatever rows it returns."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import split_statements

# Formats whose verify script fails by raising an error (and returns rows when all is well).
RAISING_VERIFY_FORMATS = frozenset({"sqitch"})


def verification_error(conn: Any, mset: MigrationSet) -> ValidationFailed | None:
    """Runs the query (inside the caller's transaction, if any); the error naming up to three rows, or None."""
    if postgres_part(mset).source_format in RAISING_VERIFY_FORMATS:
        return _raised_error(conn, mset)
    rows = conn.execute(postgres_part(mset).verify_sql).fetchmany(3)
    if not rows:
        return None
    shown = "; ".join(repr(tuple(r)) for r in rows)
    return ValidationFailed(f"verification query returned rows (it must return none): {shown}",
                            version=mset.version, path=part_path(mset, "verify"))


def _raised_error(conn: Any, mset: MigrationSet) -> ValidationFailed | None:
    """Runs the script's statements in a savepoint (a transaction when there is none) that is always rolled back, as
    Sqitch's own BEGIN ... ROLLBACK around them does; the error it raised, or None."""
    try:
        with conn.transaction(force_rollback=True):
            for stmt in split_statements(postgres_part(mset).verify_sql or ""):
                if not stmt.transaction_control:  # the script's BEGIN/ROLLBACK: the savepoint stands for them
                    conn.execute(stmt.sql)
    except psycopg.Error as exc:
        return ValidationFailed(f"verify script raised an error: {pg_message(exc)}", version=mset.version,
                                path=part_path(mset, "verify"))
    return None

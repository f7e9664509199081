"""Finding another tool's history table the way the tool itself finds it, and reading its columns (read-only).

The tools create their tables unqualified, in the first schema of the connection's search_path, so the table is
resolved here the same way (to_regclass on the bare name). The engine's own ledger, dbops.schema_migrations, has
the same name as golang-migrate's and dbmate's table: it is never taken for theirs, whatever the search_path says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.ledger import SCHEMA as LEDGER_SCHEMA


@dataclass(frozen=True)
class HistoryTable:
    """A table found through the search_path, with its column names."""

    schema: str
    name: str
    columns: frozenset[str]

    @property
    def shown(self) -> str:
        return f"{self.schema}.{self.name}"


def find_history_table(conn: Any, name: str) -> HistoryTable | None:
    """The table the tool would use (first match on the search_path), or None; never the engine's own ledger."""
    row = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(%s)", (name,)).fetchone()
    if row is None or row[0] == LEDGER_SCHEMA:
        return None
    columns = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (name,)).fetchall()
    return HistoryTable(schema=row[0], name=row[1], columns=frozenset(c[0] for c in columns))


def table_identifier(table: HistoryTable) -> Any:
    """The table as a composed SQL identifier (schema-qualified), for the readers' SELECTs."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import require_psycopg

    sql = require_psycopg().sql
    return sql.Identifier(table.schema, table.name)


SCHEMA_MIGRATIONS = "schema_migrations"


def schema_migrations_table(conn: Any, *, with_dirty: bool) -> HistoryTable | None:
    """golang-migrate's (with_dirty) or dbmate's `schema_migrations`: the same name, told apart by the `dirty`
    column, which only golang-migrate's has."""
    table = find_history_table(conn, SCHEMA_MIGRATIONS)
    if table is None or "version" not in table.columns or ("dirty" in table.columns) != with_dirty:
        return None
    return table


def select_rows(conn: Any, template: str, table: HistoryTable) -> list[tuple[Any, ...]]:
    """Rows of `template` (SQL with one {} for the table), the table quoted as an identifier."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql

    return list(conn.execute(sql.SQL(template).format(table_identifier(table))))

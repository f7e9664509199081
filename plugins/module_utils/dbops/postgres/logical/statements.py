"""THE statements of the cutover's logical replication, built only with psycopg.sql (identifiers through
sql.Identifier, values through sql.Literal), and the two catalogue facts every part shares: which tables are
published, and the fence table they always include.

The subscription's CONNECTION carries the publisher's password: create_subscription() returns, beside the statement,
the text shown in `queries`, redacted by core/secrets.py (the one redaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import FENCE_TABLE
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import conninfo_to_dict, sql

LEDGER_SCHEMA = "dbops"  # each side's own ledger: never published, except the fence table
OUTPUT_PLUGIN = "pgoutput"
SYNCHRONOUS_COMMIT_VALUES = ("local", "remote_write", "remote_apply", "on", "off")

Table = tuple[str, str]  # (schema, table)


@dataclass(frozen=True)
class MaskedStatement:
    """A statement carrying a secret, and the text shown for it (queries, plans, errors)."""

    query: Any  # sql.Composed
    masked: str


# A table's column list in a publication (PostgreSQL 15): only these columns are sent; None: every column.
ColumnLists = dict[Table, list[str]]


def create_publication(name: str, tables: Sequence[Table], columns: ColumnLists | None = None) -> Any:
    if not tables:  # FOR TABLE needs at least one; the fence table is always listed, so this is a caller's bug
        raise DbopsError(f"publication {name}: no table to publish")
    return sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), _table_list(tables, columns))


def add_publication_tables(name: str, tables: Sequence[Table], columns: ColumnLists | None = None) -> Any:
    return sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(name), _table_list(tables, columns))


def drop_publication(name: str) -> Any:
    return sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name))


def create_subscription(name: str, conninfo: str, publication: str, *, copy_data: bool, create_slot: bool,
                        slot_name: str, enabled: bool, synchronous_commit: str = "on") -> MaskedStatement:
    if synchronous_commit not in SYNCHRONOUS_COMMIT_VALUES:
        raise DbopsError(f"subscription {name}: synchronous_commit must be one of "
                         f"{', '.join(SYNCHRONOUS_COMMIT_VALUES)}, not {synchronous_commit!r}")
    options = sql.SQL(", ").join([
        sql.SQL("copy_data = {}").format(_boolean(copy_data)),
        sql.SQL("create_slot = {}").format(_boolean(create_slot)),
        sql.SQL("slot_name = {}").format(sql.Literal(slot_name)),
        sql.SQL("enabled = {}").format(_boolean(enabled)),
        sql.SQL("synchronous_commit = {}").format(sql.Literal(synchronous_commit)),
    ])
    query = sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH ({})").format(
        sql.Identifier(name), sql.Literal(conninfo), sql.Identifier(publication), options)
    return MaskedStatement(query, redact(query.as_string(None), _password_of(conninfo)))


def alter_subscription_enabled(name: str, enabled: bool) -> Any:
    action = sql.SQL("ENABLE") if enabled else sql.SQL("DISABLE")
    return sql.SQL("ALTER SUBSCRIPTION {} {}").format(sql.Identifier(name), action)


def refresh_subscription(name: str, copy_data: bool = True) -> Any:
    return sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = {})").format(
        sql.Identifier(name), _boolean(copy_data))


def drop_subscription(name: str) -> list[Any]:
    """The subscriber's statements, in order. The slot is detached first (slot_name = NONE needs a disabled
    subscription), so DROP never depends on reaching the publisher, nor refuses a disabled subscription that still
    names its slot; the caller drops the slot on the publisher with drop_slot()."""
    subscription = sql.Identifier(name)
    return [
        alter_subscription_enabled(name, False),
        sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(subscription),
        sql.SQL("DROP SUBSCRIPTION {}").format(subscription),
    ]


def create_logical_slot(name: str) -> Any:
    return sql.SQL("SELECT lsn::text FROM pg_create_logical_replication_slot({}, {})").format(
        sql.Literal(name), sql.Literal(OUTPUT_PLUGIN))


def drop_slot(name: str) -> Any:
    """Idempotent: a slot already gone is no error (a rerun after a crash)."""
    return sql.SQL("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = {}").format(
        sql.Literal(name))


def ensure_fence_schema() -> Any:
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(FENCE_TABLE[0]))


def ensure_fence_table_statement() -> Any:
    # The layout the switch writes (one row per fence: which cutover, which side was fenced, its token).
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, cutover text NOT NULL, "
                   "side text NOT NULL, token text NOT NULL, "
                   "fenced_at timestamptz NOT NULL DEFAULT now())").format(sql.Identifier(*FENCE_TABLE))


def fence_table_exists(conn: Any) -> bool:
    return _relation_exists(conn, FENCE_TABLE)


def ensure_fence_table(conn: Any, queries: list[str], label: str = "") -> bool:
    """Creates schema dbops and dbops.cutover_fence when missing (recorded in queries, prefixed with label);
    True when it created the table."""
    if fence_table_exists(conn):
        return False
    prefix = f"{label}: " if label else ""
    for statement in (ensure_fence_schema(), ensure_fence_table_statement()):
        queries.append(prefix + statement.as_string(None))
        conn.execute(statement)
    return True


# Ordinary, permanent tables of the application's schemas. Extension members are left out: CREATE EXTENSION on the
# target makes them (and their rows) itself. Partitioned tables are not listed here: the guardrails refuse them.
_APPLICATION_TABLES = """
SELECT n.nspname, c.relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s)
   AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2
"""


def application_tables(conn: Any) -> list[Table]:
    """The application's tables (without the fence table), sorted."""
    return [(row[0], row[1]) for row in conn.execute(_APPLICATION_TABLES, (LEDGER_SCHEMA,)).fetchall()]


def published_tables(conn: Any) -> list[Table]:
    """What the cutover's publication lists: the application's tables plus dbops.cutover_fence."""
    return application_tables(conn) + [FENCE_TABLE]


# The migration ledger (postgres/migrate/ledger_layout.py): copied once at set-up, so that the target's migrate plan
# matches the source's; never published (each side then records its own runs).
LEDGER_TABLES = ("schema_migrations", "migration_log", "statement_progress", "backfill_progress", "ledger_layout")


def ledger_tables(conn: Any) -> list[Table]:
    """The ledger tables that exist on this side."""
    return [(LEDGER_SCHEMA, name) for name in LEDGER_TABLES if _relation_exists(conn, (LEDGER_SCHEMA, name))]


def _relation_exists(conn: Any, table: Table) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                       (sql.Identifier(*table).as_string(None),)).fetchone()
    return bool(row[0])


def _table_list(tables: Sequence[Table], columns: ColumnLists | None = None) -> Any:
    columns = columns or {}
    return sql.SQL(", ").join(_published_table(table, columns.get(table)) for table in tables)


def _published_table(table: Table, columns: list[str] | None) -> Any:
    if not columns:
        return sql.Identifier(*table)
    return sql.SQL("{} ({})").format(sql.Identifier(*table), sql.SQL(", ").join(map(sql.Identifier, columns)))


def _boolean(value: bool) -> Any:
    return sql.SQL("true") if value else sql.SQL("false")


def _password_of(conninfo: str) -> tuple[str, ...]:
    """The conninfo's password, masked wherever it appears (a form the patterns would not recognise)."""
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except Exception:  # noqa: BLE001 - an unparsable conninfo is reported by CREATE SUBSCRIPTION itself
        return ()
    if not password:
        return ()
    # Also as it reads inside the SQL literal, where a quote is doubled.
    return (str(password), str(password).replace("'", "''"))

"""Which tables and collections a database holds: what a recovery point records, and what the emergency assessment
compares with it to find objects dropped since.

The collection's own bookkeeping (the dbops schema, the dbops_* collections) and the side schema/database an object
restore writes into are left out: they are not the application's data.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql

SIDE_SCHEMA = "dbops_recovered"
NOT_APPLICATION_SCHEMAS = ("pg_catalog", "information_schema", "dbops", SIDE_SCHEMA)

TABLES_QUERY = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname <> ALL(%s) "
    "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%' ORDER BY 1, 2"
)


def postgres_tables(conn: Any, queries: list[str] | None = None) -> list[str]:
    """schema.table of every application table (partitioned tables once, not their partitions)."""
    if queries is not None:
        queries.append(TABLES_QUERY % "'{" + ",".join(NOT_APPLICATION_SCHEMAS) + "}'")
    rows = conn.execute(sql.SQL(TABLES_QUERY), (list(NOT_APPLICATION_SCHEMAS),)).fetchall()
    return [f"{schema}.{table}" for schema, table in rows]


def is_application_collection(name: str) -> bool:
    return not (name.startswith("system.") or name.startswith("dbops_"))


def mongodb_collections(client: Any, database: str, queries: list[str] | None = None) -> list[str]:
    if queries is not None:
        queries.append(f"listCollections on {database}")
    return sorted(name for name in client[database].list_collection_names() if is_application_collection(name))


def inventory_record(tables: list[str] | None = None, collections: list[str] | None = None) -> dict[str, Any]:
    """The inventory as a recovery point stores it (absent in points taken before inventories existed)."""
    record: dict[str, Any] = {}
    if tables is not None:
        record["tables"] = tables
    if collections is not None:
        record["collections"] = collections
    return record

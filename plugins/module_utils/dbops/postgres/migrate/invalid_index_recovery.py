"""INVALID indexes left by a failed or interrupted CREATE INDEX CONCURRENTLY: found and dropped.

Before a concurrent index build the executor records which indexes are INVALID; after the build fails, or on
the rerun after the runner died during it, every INVALID index that appeared since is dropped, so a retry can
build it again under the same name.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import Statement

INDEX_REASONS = ("CREATE INDEX CONCURRENTLY", "REINDEX CONCURRENTLY")


def invalid_indexes(conn: Any) -> list[int]:
    return [r[0] for r in conn.execute("SELECT indexrelid::bigint FROM pg_index WHERE NOT indisvalid")]


def drop_new_invalid_indexes(conn: Any, before: list[int] | None) -> list[str]:
    """Drop INVALID indexes that appeared since `before`; their schema-qualified names."""
    if before is None:
        return []
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND NOT (i.indexrelid::bigint = ANY(%s))", (before,)).fetchall()
    dropped = []
    for schema, name in rows:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name)))
        dropped.append(f"{schema}.{name}")
    return dropped


def index_state(conn: Any, stmt: Statement) -> bool | None:
    """For a named CREATE INDEX CONCURRENTLY: True valid, False invalid, None absent or unknown."""
    node = stmt.node_body
    if stmt.node_type != "IndexStmt" or not node.get("idxname"):
        return None
    schema = node.get("relation", {}).get("schemaname")
    row = conn.execute(
        "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s "
        "AND (n.nspname = %s OR (%s::text IS NULL AND pg_table_is_visible(c.oid)))",
        (node["idxname"], schema, schema)).fetchone()
    return None if row is None else bool(row[0])


def recover_interrupted_build(conn: Any, stmt: Statement, invalid_before: list[int] | None,
                              warnings: list[str], version: str) -> bool:
    """Clean up after a runner that died while stmt ran; True when the index it built is complete and valid."""
    dropped = drop_new_invalid_indexes(conn, invalid_before)
    if dropped:
        warnings.append(f"{version}: dropped INVALID index(es) {', '.join(dropped)} left by an interrupted run "
                        f"of statement {stmt.index}")
    return stmt.reason == "CREATE INDEX CONCURRENTLY" and index_state(conn, stmt) is True

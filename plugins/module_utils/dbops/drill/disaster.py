"""The drill's simulated disaster: the table and the collection the write load filled are dropped."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import table_identifier
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection as mongodb_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres import connection as postgres_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql

DOING = "striking the drill's disaster"


@dataclass
class DisasterResult:
    changed: bool = False
    dropped: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    at: float = 0.0


def strike(*, postgres_dsn: str | None, table: str, mongodb_uri: str | None, mongodb_database: str | None,
           collection: str, check_mode: bool) -> DisasterResult:
    """Drop what exists of the two; in check mode only say what would be dropped."""
    result = DisasterResult()
    if postgres_dsn:
        _drop_table(result, postgres_dsn, table, check_mode)
    if mongodb_uri:
        _drop_collection(result, mongodb_uri, mongodb_database, collection, check_mode)
    result.changed = bool(result.dropped)
    result.at = time.time()
    return result


def _drop_table(result: DisasterResult, dsn: str, table: str, check_mode: bool) -> None:
    with postgres_connection.connected(dsn, DOING) as conn:
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            return
        statement = sql.SQL("DROP TABLE {}").format(table_identifier(table))
        result.statements.append(statement.as_string(conn))
        result.dropped.append(f"postgres table {table}")
        if not check_mode:
            conn.execute(statement)


def _drop_collection(result: DisasterResult, uri: str, database: str | None, collection: str,
                     check_mode: bool) -> None:
    with mongodb_connection.connected(uri, DOING) as client:
        db = client[database]
        if collection not in db.list_collection_names(filter={"name": collection}):
            return
        result.statements.append(f"db.getSiblingDB({database!r}).{collection}.drop()")
        result.dropped.append(f"mongodb collection {database}.{collection}")
        if not check_mode:
            db.drop_collection(collection)

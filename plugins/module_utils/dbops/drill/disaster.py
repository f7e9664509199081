"""The drill's simulated disaster: the table and the collection the write load filled are dropped."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import table_identifier

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    psycopg = None
    sql = None

try:
    import pymongo
except ImportError:  # pragma: no cover
    pymongo = None


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
        if psycopg is None:
            raise DbopsError("the drill's disaster on PostgreSQL needs the Python package psycopg (3.x)")
        try:
            with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
                if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
                    statement = sql.SQL("DROP TABLE {}").format(table_identifier(table))
                    result.statements.append(statement.as_string(conn))
                    result.dropped.append(f"postgres table {table}")
                    if not check_mode:
                        conn.execute(statement)
        except psycopg.OperationalError as exc:
            raise ConnectionFailed(f"cannot reach PostgreSQL for the drill's disaster: {exc}") from exc
    if mongodb_uri:
        if pymongo is None:
            raise DbopsError("the drill's disaster on MongoDB needs the Python package pymongo")
        client = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=10000)
        try:
            db = client[mongodb_database]
            if collection in db.list_collection_names(filter={"name": collection}):
                result.statements.append(f"db.getSiblingDB({mongodb_database!r}).{collection}.drop()")
                result.dropped.append(f"mongodb collection {mongodb_database}.{collection}")
                if not check_mode:
                    db.drop_collection(collection)
        except pymongo.errors.PyMongoError as exc:
            raise ConnectionFailed(f"cannot reach MongoDB for the drill's disaster: {exc}") from exc
        finally:
            client.close()
    result.changed = bool(result.dropped)
    result.at = time.time()
    return result

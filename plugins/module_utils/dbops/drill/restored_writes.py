"""Reading back, after the restore, which of the drill's numbered writes each database holds."""

from __future__ import annotations

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


def postgres_sequences(dsn: str, table: str, run_id: str) -> tuple[set[int], bool, bool]:
    """(seqs present, whether the table exists, whether the server is still in recovery)."""
    if psycopg is None:
        raise DbopsError("verifying the drill's PostgreSQL writes needs the Python package psycopg (3.x)")
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            in_recovery = bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
            if not exists:
                return set(), False, in_recovery
            rows = conn.execute(sql.SQL("SELECT seq FROM {} WHERE run_id = %s").format(table_identifier(table)),
                                (run_id,)).fetchall()
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(f"cannot read the drill's rows back from PostgreSQL: {exc}") from exc
    return {int(row[0]) for row in rows}, True, in_recovery


def mongodb_sequences(uri: str, database: str, collection: str, run_id: str) -> tuple[set[int], bool]:
    """(seqs present, whether the collection exists)."""
    if pymongo is None:
        raise DbopsError("verifying the drill's MongoDB writes needs the Python package pymongo")
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    try:
        db = client[database]
        exists = collection in db.list_collection_names(filter={"name": collection})
        seqs = {int(doc["seq"]) for doc in db[collection].find({"run_id": run_id}, {"seq": 1, "_id": 0})}
    except pymongo.errors.PyMongoError as exc:
        raise ConnectionFailed(f"cannot read the drill's documents back from MongoDB: {exc}") from exc
    finally:
        client.close()
    return seqs, exists

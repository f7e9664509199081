"""Reading back, after the restore, which of the drill's numbered writes each database holds."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import table_identifier
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection as mongodb_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres import connection as postgres_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql


def postgres_sequences(dsn: str, table: str, run_id: str) -> tuple[set[int], bool, bool]:
    """(seqs present, whether the table exists, whether the server is still in recovery)."""
    with postgres_connection.connected(dsn, "reading the drill's rows back") as conn:
        in_recovery = bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            return set(), False, in_recovery
        rows = conn.execute(sql.SQL("SELECT seq FROM {} WHERE run_id = %s").format(table_identifier(table)),
                            (run_id,)).fetchall()
    return {int(row[0]) for row in rows}, True, in_recovery


def mongodb_sequences(uri: str, database: str, collection: str, run_id: str) -> tuple[set[int], bool]:
    """(seqs present, whether the collection exists)."""
    with mongodb_connection.connected(uri, "reading the drill's documents back") as client:
        db = client[database]
        exists = collection in db.list_collection_names(filter={"name": collection})
        seqs = {int(doc["seq"]) for doc in db[collection].find({"run_id": run_id}, {"seq": 1, "_id": 0})}
    return seqs, exists

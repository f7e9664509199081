"""The MongoDB backfill progress reader against a real server: the migrate engine's checkpoints in dbops_progress
against the collection's estimated document count."""

from __future__ import annotations

import pymongo

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.progress_info import (
    ProgressRequest,
    read_progress,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.progress import (
    mark_done,
    save_checkpoint,
)


def test_running_and_just_finished_backfills_are_read_with_the_collections_size(mongo_server, mongo_db_name):
    client = pymongo.MongoClient(mongo_server)
    try:
        db = client[mongo_db_name]
        db.users.insert_many([{"_id": n} for n in range(300)])
        save_checkpoint(db, "2024.020", "up", "split_names", collection="users", last_id=119, documents=120)
        save_checkpoint(db, "2024.021", "up", "lowercase", collection="users", last_id=299, documents=300)
        mark_done(db, "2024.021", "up", "lowercase")
        request = ProgressRequest(DatabaseConnections(mongodb_uri=mongo_server, mongodb_database=mongo_db_name),
                                  sources=("backfills",))

        records = {record["name"]: record for record in read_progress(request).records}
    finally:
        client.drop_database(mongo_db_name)
        client.close()

    running = records["2024.020 split_names"]
    assert (running["kind"], running["unit"], running["done"], running["total"]) == ("backfill", "documents", 120, 300)
    assert running["status"] == "running" and running["detail"] == "users" and running["started_at"].endswith("Z")
    assert records["2024.021 lowercase"]["status"] == "done"

"""The same dump, capture and point-in-time restore with the repository in S3 (moto's server over HTTP)."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import ChangeCapture
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import database_digests
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import take_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.recovery_time import (
    current_cluster_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY


def test_pitr_through_an_s3_repository(mongo_server, mclient, mongo_db_name, s3_server):
    s3_server.reset()
    repo = open_repository("s3://dbops-mongo/backups/app", s3_endpoint_url=s3_server.endpoint_url,
                           s3_access_key=ACCESS_KEY, s3_secret_key=SECRET_KEY, s3_region=REGION, retry_seconds=10)
    repo.ensure_bucket()
    db = mclient[mongo_db_name]
    db.orders.insert_many([{"_id": i, "state": "new"} for i in range(200)])
    db.orders.create_index("state")
    record = take_dump(mongo_server, repo, mongo_db_name)
    assert {o["key"].rsplit("/", 1)[1] for o in record.objects} >= {"orders.bson.gz", "orders.metadata.json.gz"}

    db.orders.update_many({"_id": {"$lt": 50}}, {"$set": {"state": "paid"}})
    point = current_cluster_time(mongo_server, mongo_db_name)
    expected = database_digests(mclient, mongo_db_name)
    db.orders.delete_many({})
    ChangeCapture(mongo_server, repo, mongo_db_name, await_ms=100).run(
        until=current_cluster_time(mongo_server, mongo_db_name)["cluster_time"], max_seconds=60)

    ranges = Catalog(repo).archive_ranges("mongodb")
    assert ranges and all(r.details["database"] == mongo_db_name for r in ranges)
    result = restore.restore(mongo_server, repo, mongo_db_name, point)
    assert result.verified
    assert database_digests(mclient, mongo_db_name) == expected
    assert db.orders.count_documents({"state": "paid"}) == 50

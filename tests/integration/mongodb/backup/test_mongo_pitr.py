"""Point-in-time recovery of a MongoDB database: to a cluster time and a wall-clock time between two writes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import flush_until
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import database_digests
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import take_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.recovery_time import (
    current_cluster_time,
    take_recovery_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore


def docs(db) -> dict:
    return {name: list(db[name].find().sort("_id", 1)) for name in sorted(db.list_collection_names())}


@pytest.mark.parametrize("mode", ["oplog", "change_stream"])
def test_pitr_to_a_point_between_two_writes(mongo_server, mclient, mongo_db_name, repo, start_capture, mode):
    db = mclient[mongo_db_name]
    db.accounts.insert_many([{"_id": i, "balance": 100, "hist": [i]} for i in range(20)])
    db.accounts.create_index("balance")
    take_dump(mongo_server, repo, mongo_db_name)
    capture = start_capture(repo, mongo_db_name, mode=mode)

    # changes after the dump, before the point: every kind of write
    db.accounts.update_one({"_id": 1}, {"$inc": {"balance": -30}, "$push": {"hist": "w1"}})
    db.accounts.delete_one({"_id": 2})
    db.accounts.replace_one({"_id": 3}, {"balance": 0, "closed": True})
    db.accounts.update_many({"_id": {"$gte": 10}}, {"$set": {"tier": "gold"}, "$unset": {"hist": ""}})
    db.audit.insert_one({"_id": "a1", "what": "first write"})
    with mclient.start_session() as session, session.start_transaction():
        db.accounts.update_one({"_id": 4}, {"$inc": {"balance": -50}}, session=session)
        db.accounts.update_one({"_id": 5}, {"$inc": {"balance": 50}}, session=session)
    point = take_recovery_time(mongo_server, repo, mongo_db_name, timeout_s=30)
    expected = docs(db)
    expected_digests = database_digests(mclient, mongo_db_name)
    time.sleep(0.05)
    wall_point = datetime.now(UTC)
    time.sleep(0.05)

    # changes after the point: must not come back
    db.audit.insert_one({"_id": "a2", "what": "second write"})
    db.accounts.update_one({"_id": 1}, {"$set": {"balance": -1}})
    db.accounts.delete_many({"_id": {"$lt": 5}})
    db.drop_collection("audit")  # the disaster
    flush_until(repo, mongo_db_name, current_cluster_time(mongo_server, mongo_db_name)["cluster_time"], timeout_s=30)
    capture.stop()

    result = restore.restore(mongo_server, repo, mongo_db_name, point)
    assert result.verified and result.changed
    assert result.applied_entries > 0
    assert docs(db) == expected
    assert db.audit.find_one({"_id": "a1"}) and db.audit.find_one({"_id": "a2"}) is None
    assert database_digests(mclient, mongo_db_name) == expected_digests
    assert [i["name"] for i in db.accounts.list_indexes()] == ["_id_", "balance_1"]

    # the same moment given as wall-clock time: the same state
    by_time = restore.restore(mongo_server, repo, mongo_db_name, {"wall_time": wall_point.isoformat()})
    assert by_time.verified
    assert docs(db) == expected


def test_targets_outside_the_archive_fail_clearly_and_touch_nothing(
        mongo_server, mclient, mongo_db_name, repo, start_capture):
    db = mclient[mongo_db_name]
    db.items.insert_many([{"_id": i} for i in range(5)])
    dumped = take_dump(mongo_server, repo, mongo_db_name)
    capture = start_capture(repo, mongo_db_name)
    db.items.insert_one({"_id": "late"})
    reach = flush_until(repo, mongo_db_name, current_cluster_time(mongo_server, mongo_db_name)["cluster_time"])
    capture.stop()
    before = docs(db)
    names_before = sorted(mclient.list_database_names())

    with pytest.raises(RestoreError, match="before the oldest MongoDB dump.*nothing was touched"):
        restore.restore(mongo_server, repo, mongo_db_name, {"t": dumped.cluster_time["t"] - 60, "i": 1})
    with pytest.raises(RestoreError, match="before the oldest MongoDB dump"):
        restore.restore(mongo_server, repo, mongo_db_name, "2001-01-01T00:00:00Z")
    with pytest.raises(RestoreError, match="after the newest archived change.*nothing was touched"):
        restore.restore(mongo_server, repo, mongo_db_name, {"t": reach.covered_until.time + 3600, "i": 1})
    with pytest.raises(RestoreError, match="after the newest archived change"):
        restore.restore(mongo_server, repo, mongo_db_name, datetime.now(UTC).replace(year=2100))
    with pytest.raises(RestoreError, match="no MongoDB dump of nosuchdb"):
        restore.restore(mongo_server, repo, "nosuchdb", "latest")

    assert docs(db) == before
    assert sorted(mclient.list_database_names()) == names_before
    assert mclient.dbops_restore.journal.find_one({"_id": mongo_db_name}) is None

    # planning and check mode read, and write nothing
    plan = restore.plan_restore(mongo_server, repo, mongo_db_name, "latest")
    assert plan.backup_id == dumped.backup_id and plan.chunks and plan.target_collections == ["items"]
    planned = restore.restore(mongo_server, repo, mongo_db_name, check_mode=True, plan=plan)
    assert planned.changed and not planned.verified and planned.plan["chunks"] == plan.chunks
    assert docs(db) == before
    assert mclient.dbops_restore.journal.find_one({"_id": mongo_db_name}) is None


def test_flush_until_names_the_archive_reach_when_capture_is_not_running(mongo_server, mongo_db_name, repo):
    point = current_cluster_time(mongo_server, mongo_db_name)
    with pytest.raises(BackupError, match="did not reach .* is the change capture running"):
        flush_until(repo, mongo_db_name, point["cluster_time"], timeout_s=0.5)


def test_recovery_point_under_a_continuous_write_load(mongo_server, mclient, mongo_db_name, repo, start_capture):
    """Something is always buffered while writes keep coming: the archive's reach must still move past the point."""
    import threading

    db = mclient[mongo_db_name]
    db.load.insert_one({"_id": -1})
    take_dump(mongo_server, repo, mongo_db_name)
    capture = start_capture(repo, mongo_db_name)
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            db.load.insert_one({"_id": i})
            i += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        time.sleep(0.5)
        point = take_recovery_time(mongo_server, repo, mongo_db_name, timeout_s=20)
        assert point["archived_until"]["t"] * 2**32 + point["archived_until"]["i"] >= \
            point["cluster_time"]["t"] * 2**32 + point["cluster_time"]["i"]
        expected = db.load.count_documents({"_id": {"$lte": _last_id_at(mclient, mongo_db_name, point)}})
    finally:
        stop.set()
        writer.join()
    flush_until(repo, mongo_db_name, current_cluster_time(mongo_server, mongo_db_name)["cluster_time"])
    capture.stop()
    result = restore.restore(mongo_server, repo, mongo_db_name, point, target_database=mongo_db_name + "_rp")
    assert result.verified
    assert mclient[mongo_db_name + "_rp"].load.count_documents({}) == expected


def _last_id_at(client, database: str, point: dict) -> int:
    """The highest _id inserted at or before the point, from the oplog (inserts are sequential)."""
    from bson import Timestamp

    ts = Timestamp(point["cluster_time"]["t"], point["cluster_time"]["i"])
    last = client.local["oplog.rs"].find_one({"ns": f"{database}.load", "op": "i", "ts": {"$lte": ts}},
                                             sort=[("$natural", -1)])
    return last["o"]["_id"]

"""The MongoDB ledger's layout on a real server (SecantusDB): a ledger written by the code before layouts existed
(layout 1, frozen here document by document as that code wrote them) is upgraded under the runner lock without
losing or changing anything, a rerun changes nothing, check mode only reports the upgrade, a newer layout is
refused, and no secret from user input reaches the ledger."""

from __future__ import annotations

from datetime import datetime

import pytest
from bson import ObjectId, Timestamp

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import LAYOUT
from tests.support.mongo_migrations import ledger_status, run, snapshot, write_mongo_set

USER_IDS = [ObjectId(f"65a000000000000000000{i:03d}") for i in range(6)]
LEDGER_COLLECTIONS = ("dbops_migrations", "dbops_progress", "dbops_touched", "dbops_lock")
ADD_PREFERENCES = {"operations": [
    {"add_field": {"collection": "users", "field": "preferences", "default": {"theme": "light"}}}]}
EMAIL_INDEX = {"operations": [{"create_index": {"collection": "users", "keys": {"email": 1}, "name": "email_1"}}]}


def at(second: int) -> datetime:
    return datetime(2024, 5, 2, 9, 30, second)  # pymongo reads dates back tz-naive, to the millisecond


def layout_1_documents(checksum: str) -> dict[str, list[dict]]:
    """Set 1 (add_field on users) applied by the pre-layout code: its entry and its touched records."""
    run_id = "5b0c6f3e9d2a4e1f8c7b6a5d4e3f2a1b"
    entry = {
        "_id": "1", "version": "1", "name": "add_preferences", "checksum": checksum, "kind": "yaml",
        "status": "applied", "run_id": run_id, "error": None, "finished_at": at(2), "duration_ms": 41,
        "applied_by": "deploy", "applied_from": "ci-runner-7", "pid": 4242,
        "topology": {"kind": "replica_set", "transactions": True, "set_name": "rs0", "writable_primary": True,
                     "max_wire_version": 17, "hosts": ["127.0.0.1:27017"], "notes": []},
        "db_user": None, "oplog_ts_before": Timestamp(1714642200, 3), "started_at": at(1),
        "ops": [{"index": 0, "kind": "add_field",
                 "summary": 'db.users.updateMany({"preferences": {"$exists": false}}, {$set: {"preferences": '
                            '{"theme": "light"}}}) // in batches by _id, each batch\'s _ids recorded for the rollback',
                 "args": '{"collection": "users", "field": "preferences", "default": {"theme": "light"}}',
                 "inverse": '{"collection": "users", "field": "preferences", "touched": "dbops_touched"}',
                 "state": "done"}],
        "history": [{"at": at(1), "status": "running", "run_id": run_id},
                    {"at": at(2), "status": "applied", "run_id": run_id}],
    }
    touched = [{"_id": ObjectId("65a100000000000000000001"), "version": "1", "op": 0, "at": at(2),
                "unset": [["preferences", USER_IDS[1:3]]]},
               {"_id": ObjectId("65a100000000000000000002"), "version": "1", "op": 0, "at": at(2),
                "unset": [["preferences", USER_IDS[4:6]]]}]
    return {"dbops_migrations": [entry], "dbops_touched": touched}


@pytest.fixture
def layout_1(mdb, migrations):
    """Users as set 1 left them, set 1's layout-1 ledger, and set 2 waiting in the migrations directory."""
    write_mongo_set(migrations, "1_add_preferences", yml=ADD_PREFERENCES)
    write_mongo_set(migrations, "2_email_index", yml=EMAIL_INDEX)
    mdb.users.insert_many([{"_id": _id, "email": f"u{i}@example.org"} for i, _id in enumerate(USER_IDS)])
    mdb.users.update_many({"_id": {"$in": [USER_IDS[0], USER_IDS[3]]}}, {"$set": {"preferences": {"theme": "dark"}}})
    original = snapshot(mdb)  # before set 1
    touched = USER_IDS[1:3] + USER_IDS[4:6]
    mdb.users.update_many({"_id": {"$in": touched}}, {"$set": {"preferences": {"theme": "light"}}})
    _format, sets = discover(str(migrations))
    frozen = layout_1_documents(next(s for s in sets if s.version == "1").mongodb.checksum)
    for name, docs in frozen.items():
        mdb[name].insert_many(docs)
    return mdb, frozen, original


def ledger_documents(db) -> dict[str, list[dict]]:
    return {name: list(db[name].find().sort("_id", 1)) for name in LEDGER_COLLECTIONS}


def test_layout_1_ledger_is_upgraded_without_losing_or_changing_a_document(mongo_server, layout_1, migrations):
    db, frozen, original = layout_1
    result = run(mongo_server, db.name, migrations)
    assert result.applied == ["2"]
    assert any(f"upgraded 3 ledger documents to layout {LAYOUT}" in w for w in result.warnings), result.warnings
    found = ledger_documents(db)
    for name, docs in frozen.items():
        by_id = {doc["_id"]: doc for doc in found[name]}
        for doc in docs:
            assert by_id[doc["_id"]] == {**doc, "layout": LAYOUT}, name
    assert db.dbops_migrations.find_one({"_id": "2"})["layout"] == LAYOUT  # written by this code
    assert db.dbops_lock.count_documents({}) == 0
    assert ledger_status(db) == {"1": "applied", "2": "applied"}

    again = run(mongo_server, db.name, migrations)
    assert again.changed is False and not any("layout" in w for w in again.warnings)
    assert ledger_documents(db) == found

    # The upgraded layout-1 records still drive the rollback: set 1 unsets exactly the users it touched.
    run(mongo_server, db.name, migrations, state="rolled_back", target="0")
    assert snapshot(db) == original


def test_check_mode_reports_the_upgrade_and_changes_nothing(mongo_server, layout_1, migrations):
    db, _frozen, _original = layout_1
    before = ledger_documents(db)
    result = run(mongo_server, db.name, migrations, check_mode=True)
    assert result.applied == ["2"]
    assert any(f"upgraded to layout {LAYOUT} by the next run" in w and "dbops_migrations: 1" in w
               and "dbops_touched: 2" in w for w in result.warnings), result.warnings
    assert ledger_documents(db) == before
    assert db.dbops_migrations.count_documents({"layout": {"$exists": True}}) == 0


def test_status_with_nothing_planned_still_reports_the_pending_upgrade(mongo_server, layout_1, tmp_path):
    db, _frozen, _original = layout_1
    before = ledger_documents(db)
    empty = tmp_path / "no_sets"
    empty.mkdir()
    result = run(mongo_server, db.name, empty, state="status")
    assert any(f"upgraded to layout {LAYOUT} by the next run" in w for w in result.warnings), result.warnings
    assert ledger_documents(db) == before


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_newer_layout_is_refused(mongo_server, layout_1, migrations, check_mode):
    db, _frozen, _original = layout_1
    db.dbops_migrations.update_one({"_id": "1"}, {"$set": {"layout": LAYOUT + 1, "shape": "from the future"}})
    before, users = ledger_documents(db), snapshot(db)
    with pytest.raises(MigrationFailed, match=rf"has layout {LAYOUT + 1} \(dbops_migrations\), newer than layout "
                                              rf"{LAYOUT}.*nothing was changed"):
        run(mongo_server, db.name, migrations, check_mode=check_mode)
    assert ledger_documents(db) == before and snapshot(db) == users


def test_the_upgrade_masks_secrets_that_layout_1_stored(mongo_server, layout_1, migrations):
    db, frozen, _original = layout_1
    error = "up() failed: OperationFailure: cannot reach mongodb://admin:hunter2@db.example:27017/app"
    db.dbops_migrations.update_one({"_id": "1"}, {"$set": {"error": error}})
    run(mongo_server, db.name, migrations)
    entry = db.dbops_migrations.find_one({"_id": "1"})
    assert entry["error"] == "up() failed: OperationFailure: cannot reach mongodb://admin:********@db.example:27017/app"
    assert {**entry, "error": error} == {**frozen["dbops_migrations"][0], "error": error, "layout": LAYOUT}


def test_secrets_from_user_input_never_reach_the_ledger(mongo_server, mdb, migrations):
    mdb.users.insert_many([{"n": i} for i in range(3)])
    dsn = "mongodb://reporting:s3cret-pw@reports.example:27017/stats"
    write_mongo_set(migrations, "1_dsn", yml={"operations": [{"update_many": {
        "collection": "users", "filter": {}, "update": {"$set": {"report_dsn": dsn}},
        "inverse": {"filter": {}, "update": {"$unset": {"report_dsn": ""}}}}}]})
    write_mongo_set(migrations, "2_fails", py="""
        def up(db, ctx):
            raise RuntimeError("login failed for password=hunter2 at postgresql://app:pg-secret@pg.example/app")
        def down(db, ctx):
            pass
    """)
    with pytest.raises(MigrationFailed):
        run(mongo_server, mdb.name, migrations)
    text = str(list(mdb.dbops_migrations.find()))
    for secret in ("hunter2", "pg-secret"):
        assert secret not in text
    applied = mdb.dbops_migrations.find_one({"_id": "1"})
    assert "s3cret-pw" not in applied["ops"][0]["summary"] and "********" in applied["ops"][0]["summary"]
    # The arguments are replayed by the rollback, so they are kept as given (and the rollback still works).
    assert dsn in applied["ops"][0]["args"]
    failed = mdb.dbops_migrations.find_one({"_id": "2"})
    assert failed["status"] == "failed" and "password=********" in failed["error"]
    assert "password=********" in failed["history"][-1]["error"]
    run(mongo_server, mdb.name, migrations, state="rolled_back", target="0")
    assert mdb.users.count_documents({"report_dsn": {"$exists": True}}) == 0

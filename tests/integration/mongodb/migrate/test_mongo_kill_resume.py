"""A MongoDB part killed with kill -9 in the middle of its batches, then rerun: it resumes after the last
committed batch and no document is migrated twice. The server runs as its own process (secantusd-py), once as
a replica set (transactions: batch + checkpoint in one transaction) and once as a standalone server (no
transactions: per-document marker)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest

from tests.support.mongo_migrations import ledger_status, run, snapshot, write_mongo_set
from tests.support.mongo_server import destroy_daemon, new_daemon

RUNNER = Path(__file__).resolve().parents[3] / "support" / "engine_runner.py"
DOCS = 1000

CODE_MIGRATION = """
    BATCH_SIZE = 50
    PAUSE_MS = 25

    def up(db, ctx):
        def handler(docs, writer):
            for doc in docs:
                writer.update_one("users", {"_id": doc["_id"]},
                                  {"$set": {"preferences": {"theme": "light"}}, "$inc": {"times_migrated": 1}})
        # No filter on purpose: only the checkpoint (or the marker) keeps a document from being migrated twice.
        ctx.each_batch("users", handler, projection={"_id": 1})

    def down(db, ctx):
        def handler(docs, writer):
            for doc in docs:
                writer.update_one("users", {"_id": doc["_id"]}, {"$unset": {"preferences": "", "times_migrated": ""}})
        ctx.each_batch("users", handler, filter={"times_migrated": {"$exists": True}}, projection={"_id": 1})

    def validate(db, ctx):
        return db.users.count_documents({"times_migrated": {"$ne": 1}}) == 0
"""


@pytest.fixture(scope="module", params=["replica_set", "standalone"])
def daemon(request):
    server = new_daemon(extra_args=("--standalone",) if request.param == "standalone" else ())
    server.kind = request.param
    try:
        yield server
    finally:
        destroy_daemon(server)


@pytest.fixture
def ddb(daemon, mongo_db_name):
    client = pymongo.MongoClient(daemon.uri)
    db = client[mongo_db_name]
    db.users.insert_many([{"n": i, "email": f"u{i}@example.org"} for i in range(DOCS)])
    try:
        yield db
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def start_runner(uri: str, database: str, migrations: Path, **extra) -> subprocess.Popen:
    request = {"migrations_dir": str(migrations), "mongodb_uri": uri, "mongodb_database": database,
               "runner_lock_wait_s": 30, **extra}
    # A killed runner's lock expires after its TTL: short here, so the next runner takes it over quickly.
    return subprocess.Popen([sys.executable, str(RUNNER), json.dumps(request), "--mongo-lock-ttl", "1.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after_batches(proc: subprocess.Popen, db, batches: int, timeout: float = 60) -> int:
    """SIGKILL the runner once its checkpoint shows at least `batches` batches; returns the batches seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"runner ended before it was killed: {proc.communicate()}"
        done = sum(p.get("batches", 0) for p in db.dbops_progress.find())
        if done >= batches:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return done
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the runner made no progress")


def test_code_migration_killed_twice_mid_batch_resumes_without_migrating_a_document_twice(daemon, ddb, tmp_path):
    migrations = tmp_path / "migrations"
    write_mongo_set(migrations, "2024.001_user_preferences", py=CODE_MIGRATION)
    before = snapshot(ddb)
    kill_after_batches(start_runner(daemon.uri, ddb.name, migrations), ddb, 5)
    assert ledger_status(ddb) == {"2024.001": "running"}
    kill_after_batches(start_runner(daemon.uri, ddb.name, migrations), ddb, 14)
    migrated = ddb.users.count_documents({"times_migrated": 1})
    assert 0 < migrated < DOCS
    assert ddb.users.count_documents({"times_migrated": {"$gt": 1}}) == 0

    result = run(daemon.uri, ddb.name, migrations)  # on_partial: resume (the default)
    assert result.applied == ["2024.001"] and result.sets[0]["action"] == "resume"
    assert ddb.users.count_documents({"times_migrated": 1}) == DOCS
    assert ddb.users.count_documents({"_dbops_batch": {"$exists": True}}) == 0  # standalone markers removed
    assert ledger_status(ddb) == {"2024.001": "applied"}
    assert any("resumed after _id" in q for q in result.queries)

    run(daemon.uri, ddb.name, migrations, state="rolled_back", target="0")
    assert snapshot(ddb) == before


def test_add_field_killed_mid_way_resumes_and_still_rolls_back_exactly(daemon, ddb, tmp_path):
    ddb.users.update_many({"n": {"$lt": 10}}, {"$set": {"preferences": {"theme": "dark"}}})
    migrations = tmp_path / "migrations"
    write_mongo_set(migrations, "2024.001_user_preferences", yml={
        "settings": {"batch_size": 40, "pause_ms": 20},
        "operations": [{"add_field": {"collection": "users", "field": "preferences",
                                      "default": {"theme": "light", "language": "en"}}}]})
    before = snapshot(ddb)
    kill_after_batches(start_runner(daemon.uri, ddb.name, migrations), ddb, 6)
    run(daemon.uri, ddb.name, migrations)
    assert ddb.users.count_documents({"preferences.theme": "light"}) == DOCS - 10
    touched = [i for rec in ddb.dbops_touched.find() for entry in rec["unset"] for i in entry[1]]
    assert len(set(touched)) == DOCS - 10
    if daemon.kind == "replica_set":  # with transactions the records are exact; without, a replayed batch may repeat
        assert len(touched) == DOCS - 10
    run(daemon.uri, ddb.name, migrations, state="rolled_back", target="0")
    assert snapshot(ddb) == before


def test_compensate_a_killed_code_migration(daemon, ddb, tmp_path):
    migrations = tmp_path / "migrations"
    write_mongo_set(migrations, "2024.001_user_preferences", py=CODE_MIGRATION)
    before = snapshot(ddb)
    kill_after_batches(start_runner(daemon.uri, ddb.name, migrations), ddb, 5)
    result = run(daemon.uri, ddb.name, migrations, on_partial="compensate")
    assert result.rolled_back == ["2024.001"] and result.applied == []
    assert snapshot(ddb) == before
    assert ledger_status(ddb) == {"2024.001": "rolled_back"}


def test_rollback_killed_mid_way_is_not_reported_applied_and_finishes(daemon, ddb, tmp_path):
    migrations = tmp_path / "migrations"
    write_mongo_set(migrations, "2024.001_user_preferences", py=CODE_MIGRATION)
    before = snapshot(ddb)
    run(daemon.uri, ddb.name, migrations)
    assert ddb.dbops_progress.count_documents({}) == 0
    kill_after_batches(start_runner(daemon.uri, ddb.name, migrations, state="rolled_back", target="0"), ddb, 4)
    assert ledger_status(ddb) == {"2024.001": "running"}  # half undone: never "applied"
    assert 0 < ddb.users.count_documents({"times_migrated": 1}) < DOCS
    run(daemon.uri, ddb.name, migrations, state="rolled_back", target="0")
    assert snapshot(ddb) == before
    assert ledger_status(ddb) == {"2024.001": "rolled_back"}

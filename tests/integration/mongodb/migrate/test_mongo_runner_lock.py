"""One runner at a time on MongoDB: a second runner waits, then finds nothing to do; a runner that waits too
long fails clearly; the lock of a runner killed with kill -9 is taken over once it has expired."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RunnerLockTimeout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import LOCK_ID, server_now
from tests.support.mongo_migrations import ledger_status, run, write_mongo_set

RUNNER = Path(__file__).resolve().parents[3] / "support" / "engine_runner.py"

SLOW = """
    BATCH_SIZE = 20
    PAUSE_MS = 100

    def up(db, ctx):
        def handler(docs, writer):
            for doc in docs:
                writer.update_one("users", {"_id": doc["_id"]}, {"$inc": {"times_migrated": 1}})
        ctx.each_batch("users", handler)

    def down(db, ctx):
        db.users.update_many({}, {"$unset": {"times_migrated": ""}})
"""


@pytest.fixture
def slow_set(mdb, migrations):
    mdb.users.insert_many([{"n": i} for i in range(400)])  # 20 batches, >= 2 s with the pauses
    write_mongo_set(migrations, "1_slow", py=SLOW)
    return migrations


def start_runner(uri: str, database: str, migrations: Path, ttl: float = 30) -> subprocess.Popen:
    request = {"migrations_dir": str(migrations), "mongodb_uri": uri, "mongodb_database": database}
    return subprocess.Popen([sys.executable, str(RUNNER), json.dumps(request), "--mongo-lock-ttl", str(ttl)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lock(db, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = db.dbops_lock.find_one({"_id": LOCK_ID})
        if holder and db.dbops_progress.find_one():
            return holder
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the first runner never took the lock")


def test_second_runner_waits_then_finds_nothing_to_do(mongo_server, mdb, slow_set):
    first = start_runner(mongo_server, mdb.name, slow_set)
    wait_for_lock(mdb, first)
    started = time.monotonic()
    second = run(mongo_server, mdb.name, slow_set, runner_lock_wait_s=60)
    waited = time.monotonic() - started
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out)["applied"] == ["1"]
    assert second.changed is False and second.applied == [] and second.current == "1"
    assert waited > 0.5
    assert mdb.users.count_documents({"times_migrated": 1}) == 400
    assert mdb.dbops_lock.count_documents({}) == 0  # both released it


def test_runner_that_waits_too_long_fails_clearly(mongo_server, mdb, slow_set):
    first = start_runner(mongo_server, mdb.name, slow_set)
    holder = wait_for_lock(mdb, first)
    with pytest.raises(RunnerLockTimeout) as caught:
        run(mongo_server, mdb.name, slow_set, runner_lock_wait_s=0.5)
    message = str(caught.value)
    assert "another runner holds the MongoDB migration lock" in message and holder["owner"] in message
    assert "waited 0.5s" in message
    assert first.wait(timeout=60) == 0


def test_expired_lock_of_a_killed_runner_is_taken_over(mongo_server, mdb, slow_set):
    first = start_runner(mongo_server, mdb.name, slow_set, ttl=1.5)
    holder = wait_for_lock(mdb, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert ledger_status(mdb) == {"1": "running"}
    assert mdb.dbops_lock.find_one({"_id": LOCK_ID})["owner"] == holder["owner"]  # left behind by the crash
    started = time.monotonic()
    result = run(mongo_server, mdb.name, slow_set, runner_lock_wait_s=30)
    assert time.monotonic() - started < 25
    assert any("took over the migration lock of runner " + holder["owner"] in w for w in result.warnings)
    assert result.applied == ["1"] and result.sets[0]["action"] == "resume"
    assert mdb.users.count_documents({"times_migrated": 1}) == 400  # resumed, nothing migrated twice


def test_stale_lock_document_is_taken_over_at_once(mongo_server, mdb, slow_set):
    now = server_now(mdb)
    mdb.dbops_lock.insert_one({"_id": LOCK_ID, "owner": "gone-host:4242:deadbeef", "acquired_at": now,
                               "expires_at": now - timedelta(seconds=5)})
    result = run(mongo_server, mdb.name, slow_set, runner_lock_wait_s=0)
    assert result.applied == ["1"]
    assert any("gone-host:4242:deadbeef" in w for w in result.warnings)


def test_live_lock_is_not_taken_over(mongo_server, mdb, slow_set):
    now = server_now(mdb)
    mdb.dbops_lock.insert_one({"_id": LOCK_ID, "owner": "busy-host:1:cafe", "acquired_at": now,
                               "expires_at": now + timedelta(seconds=60)})
    with pytest.raises(RunnerLockTimeout, match="busy-host:1:cafe"):
        run(mongo_server, mdb.name, slow_set, runner_lock_wait_s=0.3)
    assert "dbops_migrations" not in mdb.list_collection_names()

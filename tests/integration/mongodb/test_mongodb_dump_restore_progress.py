"""A MongoDB dump and restore record their progress in a progress file (documents of the estimated total, the
collections done, the bytes fetched), which progress_info reads while they run; the backup action prints it."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.progress_info import (
    ProgressRequest,
    read_progress,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import take_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository
from tests.support.ansible_cli import run_module

pytestmark = pytest.mark.slow

ORDERS, USERS = 3_000, 1_000


@pytest.fixture
def mclient(mongo_server):
    from pymongo import MongoClient

    client = MongoClient(mongo_server, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def seeded(mclient, mongo_db_name):
    db = mclient[mongo_db_name]
    db.orders.insert_many([{"_id": i, "pad": "x" * 200} for i in range(ORDERS)])
    db.users.insert_many([{"_id": i, "name": f"u{i}"} for i in range(USERS)])
    yield mongo_db_name
    mclient.drop_database(mongo_db_name)
    mclient.drop_database(mongo_db_name + "_copy")


@contextmanager
def watched(path: str) -> Iterator[list[list[ProgressRecord]]]:
    """Every distinct reading progress_info returns from the file while the block runs, as a poller would see."""
    readings: list[list[ProgressRecord]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            records = [ProgressRecord.from_dict(data) for data in read_progress(ProgressRequest(
                databases=DatabaseConnections(), sources=(), progress_file=path)).records]
            if records and (not readings or readings[-1] != records):
                readings.append(records)
            stop.wait(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield readings
    finally:
        stop.set()
        thread.join()


def test_a_dump_and_a_restore_record_their_progress(mongo_server, seeded, tmp_path):
    repo = open_repository(str(tmp_path / "repo"))
    dump_file = str(tmp_path / "dump-progress.json")
    with watched(dump_file) as readings:
        record = take_dump(mongo_server, repo, seeded, progress_file=dump_file)
    (final,) = read_progress(ProgressRequest(databases=DatabaseConnections(), sources=(),
                                             progress_file=dump_file)).records
    assert final["kind"] == "dump" and final["name"] == f"mongodb {seeded}" and final["status"] == "done"
    assert final["done"] == final["total"] == ORDERS + USERS and final["unit"] == "documents"
    assert final["detail"].startswith("2 collections, ") and final["detail"].endswith(" stored")
    running = [records[0] for records in readings if records[0].status == "running"]
    assert running and running[0].total == ORDERS + USERS
    assert any(r.detail.startswith(("orders, 0 of 2", "users, 1 of 2")) for r in running), running
    assert record.counts == {"orders": ORDERS, "users": USERS}

    restore_file = str(tmp_path / "restore-progress.json")
    with watched(restore_file) as readings:
        outcome = restore.restore(mongo_server, repo, seeded, None, target_database=seeded + "_copy",
                                  progress_file=restore_file)
    assert outcome.verified
    by_kind = {r["kind"]: r for r in read_progress(ProgressRequest(
        databases=DatabaseConnections(), sources=(), progress_file=restore_file)).records}
    fetch, load = by_kind["fetch"], by_kind["restore"]
    assert fetch["status"] == "done" and fetch["unit"] == "bytes" and fetch["done"] == fetch["total"] > 0
    assert fetch["total"] == sum(item["size"] for item in record.objects)
    assert load["status"] == "done" and load["done"] == load["total"] == ORDERS + USERS
    assert load["name"] == f"mongodb {seeded}_copy"
    details = [records[-1].detail for records in readings if records[-1].kind == "restore"]
    assert any(detail.startswith("orders, ") for detail in details), details
    assert any(detail.startswith("moving the restored collections") for detail in details), details


def test_the_backup_and_restore_actions_print_mongodb_progress(mongo_server, mclient, mongo_db_name, tmp_path):
    # Enough documents that the dump runs past the first progress reading of the poller.
    db = mclient[mongo_db_name]
    for start in range(0, 20_000, 10_000):
        db.events.insert_many([{"_id": i, "pad": "y" * 300} for i in range(start, start + 10_000)])
    async_dir = Path(os.path.expanduser("~/.ansible_async"))
    before = set(async_dir.glob("dbops-progress-*.json"))
    connection = {"mongodb_uri": mongo_server, "mongodb_database": mongo_db_name,
                  "repository": str(tmp_path / "repo"), "progress_interval": 0.5}
    try:
        run = run_module("sevenp.dbops.backup", connection)
        cluster_time = (run.result.get("backups") or [{}])[0].get("cluster_time") or {}
        restored = run_module("sevenp.dbops.restore", {
            **connection, "mongodb_target_timestamp": f"{cluster_time.get('t')}.{cluster_time.get('i')}"})
    finally:
        for name in mclient.list_database_names():
            if name.startswith(mongo_db_name):
                mclient.drop_database(name)  # the restore moved the collections it replaced aside
    assert run.returncode == 0, run.output[-3000:]
    lines = [line for line in run.stdout.splitlines() if f"| progress | dump mongodb {mongo_db_name}" in line]
    assert lines, run.stdout[-3000:]
    # While it runs: the collection, the percent of the estimated count and an ETA (unknown before a rate).
    running = [line for line in lines if not line.endswith(" done")]
    assert running and re.search(r"\((events, [01] of 1 collections.*|uploading .*)\): \d+% [\d,]+ documents of "
                                 r"~20,000 documents .*ETA ", running[0]), lines
    assert lines[-1].endswith("100% 20,000 documents of ~20,000 documents done"), lines
    assert run.result["progress"][0]["status"] == "done" and run.result["backup_id"]

    assert restored.returncode == 0 and restored.result["verified"], restored.output[-3000:]
    lines = [line for line in restored.stdout.splitlines() if "| progress | " in line]
    # The fetch of the dump's files (bytes), then the documents loaded of the dump's counts, each ending done.
    assert any(f"restore mongodb {mongo_db_name} (" in line and line.endswith("documents of ~20,000 documents done")
               for line in lines), lines
    assert any(line.startswith(f"  localhost | progress | fetch mongodb {run.result['backup_id']}") and
               line.endswith(" done") for line in lines), lines
    # The progress files are the jobs': removed when the tasks end.
    assert not set(async_dir.glob("dbops-progress-*.json")) - before

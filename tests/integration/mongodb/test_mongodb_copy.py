"""The MongoDB copy against two real SecantusDB servers: initial copy (indexes, validators, documents), the tail
of writes made during and after it, in order, check mode, idempotence, stop/start resuming from the token, absent.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import MongoCopyRequest, run_copy
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.health import copy_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import wait_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import position_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import read_state
from tests.support.mongo_server import MongoDaemon, destroy_daemon, new_daemon

DATABASE = "app"


@dataclass
class CopyPair:
    source: MongoDaemon
    target: MongoDaemon
    cutover_dir: Path

    def request(self, **changes: Any) -> MongoCopyRequest:
        base = MongoCopyRequest(source_uri=self.source.uri, target_uri=self.target.uri, database=DATABASE,
                                direction="blue_to_green", cutover_dir=str(self.cutover_dir), timeout=60,
                                python=sys.executable)
        return dataclasses.replace(base, **changes)

    def clients(self) -> tuple[Any, Any]:
        return pymongo.MongoClient(self.source.uri), pymongo.MongoClient(self.target.uri)


def start_pair(tmp_path: Path, *source_args: str) -> CopyPair:
    return CopyPair(new_daemon(extra_args=source_args), new_daemon(), tmp_path / "cutover")


def stop_pair(pair: CopyPair) -> None:
    try:
        run_copy(pair.request(state="absent"))
    finally:
        destroy_daemon(pair.source)
        destroy_daemon(pair.target)
        shutil.rmtree(pair.cutover_dir, ignore_errors=True)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[CopyPair]:
    copy_pair = start_pair(tmp_path)
    try:
        yield copy_pair
    finally:
        stop_pair(copy_pair)


def wait_source_write(source: Any, target: Any, timeout: float = 30.0) -> int:
    """Write a marker on the source and wait until the copy has applied it; milliseconds waited."""
    reply = source[DATABASE].command({"insert": "markers", "documents": [{"at": "now"}]})
    return wait_applied(target, DATABASE, reply["operationTime"], timeout, source_client=source)


def contents(client: Any) -> dict[str, list[dict[str, Any]]]:
    db = client[DATABASE]
    return {name: list(db[name].find(sort=[("_id", 1)])) for name in sorted(db.list_collection_names())
            if not name.startswith("system.")}


def index_specs(client: Any, name: str) -> list[dict[str, Any]]:
    return sorted(({key: value for key, value in dict(index).items() if key not in ("v", "ns")}
                   for index in client[DATABASE][name].list_indexes()), key=lambda spec: spec["name"])


def seed(source: Any) -> None:
    db = source[DATABASE]
    db.create_collection("users", validator={"$jsonSchema": {"bsonType": "object", "required": ["email"]}},
                         validationAction="error")
    db.users.create_index("email", unique=True)
    db.users.create_index([("team", 1), ("joined", -1)])
    db.sessions.create_index("created_at", expireAfterSeconds=3600)
    db.users.insert_many([{"_id": i, "email": f"u{i}@example.org", "team": i % 7, "joined": i} for i in range(3000)])
    db.sessions.insert_many([{"_id": f"s{i}", "user": i} for i in range(200)])
    db.mixed.insert_many([{"_id": 1}, {"_id": "one"}, {"_id": 2.5}])


def test_initial_copy_then_every_write_in_order(pair: CopyPair) -> None:
    source, target = pair.clients()
    seed(source)

    # Check mode plans and changes nothing.
    planned = run_copy(pair.request(check_mode=True))
    assert planned.changed and not planned.running
    assert not pair.cutover_dir.exists()
    assert target[DATABASE].list_collection_names() == []
    assert read_state(target, DATABASE) is None

    # Writes during the initial copy.
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        number = 0
        while not stop.is_set():
            source[DATABASE].events.insert_one({"_id": number, "n": number})
            source[DATABASE].users.update_one({"_id": number % 3000}, {"$set": {"touched": number}})
            written.append(number)
            number += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        started = run_copy(pair.request())
    finally:
        stop.set()
        thread.join()
    assert started.changed and started.running and started.initial_copy_done, started
    assert started.pid and Path(started.log_path or "").exists()
    assert len(written) > 0

    # Writes after it, whose order matters.
    db = source[DATABASE]
    db.orders.insert_one({"_id": "o1", "state": "new", "lines": [1, 2, 3]})
    for step in range(30):
        db.orders.update_one({"_id": "o1"}, {"$set": {"state": f"step{step}", "lines.1": step}, "$inc": {"n": 1}})
    db.orders.update_one({"_id": "o1"}, {"$unset": {"lines": ""}})
    db.orders.replace_one({"_id": "o1"}, {"state": "replaced"})
    db.orders.insert_one({"_id": "gone", "x": 1})
    db.orders.delete_one({"_id": "gone"})
    db.users.delete_many({"_id": {"$lt": 10}})
    # DDL while tailing: a collection with a validator, its indexes, a rename, a dropped index and collection.
    db.create_collection("audit", validator={"$jsonSchema": {"bsonType": "object", "required": ["who"]}})
    db.audit.create_index([("who", 1), ("at", -1)], unique=True)
    db.audit.create_index("at", expireAfterSeconds=60)
    db.audit.insert_many([{"_id": i, "who": f"w{i}", "at": i} for i in range(5)])
    db.audit.drop_index("at_1")
    db.sessions.rename("old_sessions")
    db.create_collection("scratch")
    db.scratch.insert_one({"_id": 1})
    db.scratch.drop()
    wait_source_write(source, target)
    for name in ("audit", "old_sessions"):
        assert index_specs(target, name) == index_specs(source, name)
    assert target[DATABASE].audit.options() == source[DATABASE].audit.options()
    assert contents(target) == contents(source)
    assert target[DATABASE].orders.find_one({"_id": "o1"}) == {"_id": "o1", "state": "replaced"}
    assert index_specs(target, "users") == index_specs(source, "users")
    options = target[DATABASE].users.options()
    assert options["validator"] == {"$jsonSchema": {"bsonType": "object", "required": ["email"]}}
    assert copy_health(target, DATABASE).healthy
    # Quiet database, writes elsewhere on the source: the copy's position follows the stream past them.
    elsewhere = source["other"].command({"insert": "noise", "documents": [{"_id": 1}, {"_id": 2}]})
    oplog_entry = source.local["oplog.rs"].find_one({"ns": "other.noise", "o._id": 2})
    assert position_of(oplog_entry["ts"]) <= position_of(elsewhere["operationTime"])
    wait_applied(target, DATABASE, oplog_entry["ts"], 10)
    assert "other" not in target.list_database_names()

    # Started again: unchanged. Stopped twice, started: resumes from the token.
    assert not run_copy(pair.request()).changed
    assert not run_copy(pair.request(check_mode=True)).changed
    planned_stop = run_copy(pair.request(state="stopped", check_mode=True))
    assert planned_stop.changed and planned_stop.running and copy_health(target, DATABASE).running
    stopped = run_copy(pair.request(state="stopped"))
    assert stopped.changed and not stopped.running and stopped.status == "stopped"
    assert not run_copy(pair.request(state="stopped")).changed
    db.events.insert_many([{"_id": f"while-stopped-{i}"} for i in range(100)])
    db.users.update_one({"_id": 100}, {"$set": {"email": "changed@example.org"}})
    status = run_copy(pair.request(state="status"))
    assert not status.changed and not status.running and status.gap is None
    resumed = run_copy(pair.request())
    assert resumed.changed and resumed.running
    wait_source_write(source, target)
    assert contents(target) == contents(source)

    # Absent twice (check mode first: it removes nothing).
    planned_removal = run_copy(pair.request(state="absent", check_mode=True))
    assert planned_removal.changed and planned_removal.running
    assert Path(planned_removal.install_dir or "").exists() and read_state(target, DATABASE) is not None
    removed = run_copy(pair.request(state="absent"))
    assert removed.changed and not removed.running
    assert not Path(removed.install_dir or "").exists() and read_state(target, DATABASE) is None
    assert not run_copy(pair.request(state="absent")).changed

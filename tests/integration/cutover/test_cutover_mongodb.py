"""The MongoDB half of the cutover's groundwork on real servers: HAProxy (mode tcp) routed from blue to green in
front of two SecantusDB servers, and the wait for a copy's state document on green."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.haproxy_switch import (
    HaproxySwitchRequest,
    switch_haproxy,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.replication_sync import (
    ReplicationSyncRequest,
    sync_replica,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    CopyStateMissing,
    newest_cluster_time,
    position_text,
    timestamp_position,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import record_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.wait import ReplicationTimeout
from tests.integration.cutover.conftest import APP_DB, BlueGreenMongo
from tests.support.ansible_cli import run_module
from tests.support.haproxy_server import BACKEND, HaProxy, destroy_haproxy, new_haproxy


@pytest.fixture
def proxy(blue_green_mongo: BlueGreenMongo) -> Iterator[HaProxy]:
    started = new_haproxy(BlueGreenMongo.address(blue_green_mongo.blue_uri),
                          BlueGreenMongo.address(blue_green_mongo.green_uri))
    try:
        yield started
    finally:
        destroy_haproxy(started)


def _route(proxy: HaProxy, **options) -> dict:
    return switch_haproxy(HaproxySwitchRequest(socket=str(proxy.socket), backend=BACKEND, **options)).as_dict()


def test_haproxy_is_routed_from_blue_to_green_and_the_client_sees_green(proxy: HaProxy) -> None:
    with pymongo.MongoClient(proxy.mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        assert client[APP_DB].colour.find_one()["side"] == "blue"
        assert _route(proxy, action="status")["routed_to"] == "blue"

        planned = _route(proxy, route="green", check_mode=True)
        assert planned["changed"] and planned["queries"][1:] == [
            f"set server {BACKEND}/green state ready", f"set server {BACKEND}/blue state maint",
            f"shutdown sessions server {BACKEND}/blue"]
        assert client[APP_DB].colour.find_one()["side"] == "blue"

        routed = _route(proxy, route="green")
        assert routed["changed"] and routed["routed_to"] == "green"
        # The client's pooled connection to blue was shut down; its retried read reaches green.
        assert client[APP_DB].colour.find_one()["side"] == "green"
        assert {server["name"]: server["admin_state"] for server in routed["servers"]} == {
            "blue": "maint", "green": "ready"}

    again = run_module("sevenp.dbops.haproxy_switch", {"socket": str(proxy.socket), "backend": BACKEND,
                                                       "route": "green"})
    assert again.returncode == 0, again.output
    assert again.result["changed"] is False and again.result["routed_to"] == "green"
    assert again.result["queries"] == [f"show servers state {BACKEND}"]


def _copy_request(mongo: BlueGreenMongo, **options) -> ReplicationSyncRequest:
    return ReplicationSyncRequest(kind="mongodb", source=DatabaseConnections(
        mongodb_uri=mongo.blue_uri, mongodb_database=APP_DB), copy_uri=mongo.green_uri, poll_interval=0.05,
        **options)


def test_the_wait_for_a_mongodb_copy_ends_when_green_has_applied_the_target(
        blue_green_mongo: BlueGreenMongo) -> None:
    with pymongo.MongoClient(blue_green_mongo.blue_uri) as source, \
            pymongo.MongoClient(blue_green_mongo.green_uri) as green:
        source[APP_DB].orders.insert_one({"item": "before"})
        older = newest_cluster_time(source.admin.command("hello"))
        record_applied(green, APP_DB, older, {"_data": "token-1"})
        source[APP_DB].orders.insert_one({"item": "after the fence"})
        fenced = newest_cluster_time(source.admin.command("hello"))
        target = position_text(timestamp_position(fenced.time, fenced.inc))

        checked = sync_replica(_copy_request(blue_green_mongo, target_time=target, check_mode=True))
        assert checked.caught_up is False and checked.waited_ms == 0 and checked.lag_bytes is None
        assert checked.replica_position == f"{older.time}:{older.inc}"

        with pytest.raises(ReplicationTimeout):
            sync_replica(_copy_request(blue_green_mongo, target_time=target, timeout=0.3))

        # The copy applies the fenced write a little later.
        later = threading.Timer(0.4, record_applied, (green, APP_DB, fenced, {"_data": "token-2"}))
        later.start()
        try:
            started = time.monotonic()
            synced = sync_replica(_copy_request(blue_green_mongo, target_time=target, timeout=10))
        finally:
            later.join()
        assert synced.caught_up and synced.replica_position == target and synced.waited_ms >= 300
        assert time.monotonic() - started < 5

        with pytest.raises(CopyStateMissing):
            sync_replica(ReplicationSyncRequest(kind="mongodb", source=DatabaseConnections(
                mongodb_uri=blue_green_mongo.blue_uri, mongodb_database="no_copy"),
                copy_uri=blue_green_mongo.green_uri, check_mode=True))

"""The reverse copy after a switch: green -> blue from a cluster time (start_at), with no initial copy; restarted
with the same start_at it resumes from its token instead of starting over."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import MongoCopyRequest, run_copy
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.initial_copy import source_cluster_time
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import wait_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import read_state
from tests.integration.mongodb.test_mongodb_copy import DATABASE, CopyPair, contents, start_pair, stop_pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[CopyPair]:
    copy_pair = start_pair(tmp_path)
    try:
        yield copy_pair
    finally:
        try:
            run_copy(reverse(copy_pair, state="absent"))
        finally:
            stop_pair(copy_pair)


def reverse(pair: CopyPair, **changes: Any) -> MongoCopyRequest:
    """green (the forward copy's target) -> blue."""
    base = pair.request(source_uri=pair.target.uri, target_uri=pair.source.uri, direction="green_to_blue",
                        initial_copy=False, wait_for_initial_copy=False)
    return dataclasses.replace(base, **changes)


def applied_on(target: Any, source: Any, collection: str, document: dict[str, Any]) -> None:
    reply = source[DATABASE].command({"insert": collection, "documents": [document]})
    wait_applied(target, DATABASE, reply["operationTime"], 30, source_client=source)


def test_reverse_copy_from_the_switch_position(pair: CopyPair) -> None:
    blue, green = pair.clients()
    blue[DATABASE].orders.insert_many([{"_id": i, "state": "new"} for i in range(100)])
    assert run_copy(pair.request()).running
    applied_on(green, blue, "orders", {"_id": 100, "state": "new"})
    assert run_copy(pair.request(state="stopped")).changed  # the switch is done: forward stops

    green[DATABASE].orders.insert_one({"_id": "before-switch"})  # not the application's: must not travel
    start = source_cluster_time(green)
    reverse_start = f"{start.time}:{start.inc}"
    started = run_copy(reverse(pair, start_at=reverse_start))
    assert started.changed and started.running and started.initial_copy_done
    green[DATABASE].orders.update_one({"_id": 5}, {"$set": {"state": "paid"}})
    green[DATABASE].orders.delete_one({"_id": 6})
    applied_on(blue, green, "orders", {"_id": "after-switch"})
    assert blue[DATABASE].orders.find_one({"_id": 5})["state"] == "paid"
    assert blue[DATABASE].orders.find_one({"_id": 6}) is None
    assert blue[DATABASE].orders.find_one({"_id": "after-switch"}) is not None
    assert blue[DATABASE].orders.find_one({"_id": "before-switch"}) is None
    assert not run_copy(reverse(pair, start_at=reverse_start)).changed

    # Stopped and started with the same start_at: it resumes from its token, not from start_at.
    assert run_copy(reverse(pair, state="stopped")).changed
    token = read_state(blue, DATABASE).resume_token  # type: ignore[union-attr]
    assert token is not None
    green[DATABASE].orders.insert_many([{"_id": f"late{i}"} for i in range(20)])
    assert run_copy(reverse(pair, start_at=reverse_start)).running
    applied_on(blue, green, "orders", {"_id": "last"})
    log = Path(started.log_path or "").read_text()
    assert log.count('"event": "copy_start_at"') == 1 and '"token": true' in log
    expected = contents(green)
    expected["orders"] = [doc for doc in expected["orders"] if doc["_id"] != "before-switch"]
    expected.pop("markers", None)
    assert contents(blue) == expected

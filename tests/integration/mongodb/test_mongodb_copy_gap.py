"""A copy stopped for longer than the source's oplog keeps: the gap is found, recorded and reported, the copy
refuses to start, and the message says to run prepare again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import config_for, run_copy
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy import process as copy_process
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyGapDetected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.health import copy_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import wait_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import position_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import read_state
from tests.integration.mongodb.test_mongodb_copy import (
    DATABASE,
    CopyPair,
    contents,
    start_pair,
    stop_pair,
    wait_source_write,
)

OPLOG_ENTRIES = 50
# SecantusDB trims its oplog every 1000 writes: write more than that while the copy is stopped.
WRITES_WHILE_STOPPED = 1500


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[CopyPair]:
    copy_pair = start_pair(tmp_path, "--oplog-max-entries", str(OPLOG_ENTRIES))
    try:
        yield copy_pair
    finally:
        stop_pair(copy_pair)


def test_resume_point_older_than_the_oplog_is_a_gap(pair: CopyPair) -> None:
    source, target = pair.clients()
    source[DATABASE].items.insert_many([{"_id": i} for i in range(20)])
    assert run_copy(pair.request()).running
    wait_source_write(source, target)
    assert run_copy(pair.request(state="stopped")).changed
    applied = read_state(target, DATABASE).applied  # type: ignore[union-attr]

    source[DATABASE].items.insert_many([{"_id": f"late{i}"} for i in range(WRITES_WHILE_STOPPED)])
    oldest = source.local["oplog.rs"].find_one({}, sort=[("$natural", 1)])["ts"]
    assert position_of(oldest) > position_of(applied), "the server did not trim its oplog"

    # Check mode reports the refusal too, and records nothing.
    with pytest.raises(CopyGapDetected, match="prepare again"):
        run_copy(pair.request(check_mode=True))
    assert read_state(target, DATABASE).gap is None  # type: ignore[union-attr]

    with pytest.raises(CopyGapDetected, match="oldest oplog entry .* Run prepare again"):
        run_copy(pair.request())
    state = read_state(target, DATABASE)
    assert state is not None and state.status == "gap" and "prepare again" in (state.gap or "")
    assert position_of(state.applied) == position_of(applied)  # nothing applied past the hole
    assert target[DATABASE].items.count_documents({"_id": {"$regex": "^late"}}) == 0
    health = copy_health(target, DATABASE)
    assert not health.running and not health.healthy and health.gap
    status = run_copy(pair.request(state="status"))
    assert not status.running and status.gap and not status.changed
    with pytest.raises(CopyGapDetected):  # the switch's wait stops at once
        wait_applied(target, DATABASE, oldest, timeout=30)
    with pytest.raises(CopyGapDetected):  # and a second start refuses the same way
        run_copy(pair.request())

    # The process finds it itself too (restarted by its supervisor before any module looked): it records the gap
    # and waits, applying nothing, until stopped.
    target.dbops.replication_state.update_one({"_id": DATABASE}, {"$set": {"gap": None, "status": "stopped"}})
    request = pair.request()
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    assert copy_process.run(config_for(request), stop, log=lambda _event, _data: None) == copy_process.EXIT_GAP
    state = read_state(target, DATABASE)
    assert state is not None and state.status == "gap" and "prepare again" in (state.gap or "")
    assert target[DATABASE].items.count_documents({"_id": {"$regex": "^late"}}) == 0

    # Prepare again: remove the copy, empty the target, copy anew.
    assert run_copy(pair.request(state="absent")).changed
    target.drop_database(DATABASE)
    again = run_copy(pair.request())
    assert again.running and again.gap is None
    wait_source_write(source, target)
    assert contents(target) == contents(source)

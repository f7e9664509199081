"""kill -9 of the copy process while the source is written: its supervisor restarts it and it resumes from its
token, so every write arrives once (no loss, no duplicate)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import run_copy
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import read_state
from tests.integration.mongodb.test_mongodb_copy import (
    DATABASE,
    CopyPair,
    contents,
    start_pair,
    stop_pair,
    wait_source_write,
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[CopyPair]:
    copy_pair = start_pair(tmp_path)
    try:
        yield copy_pair
    finally:
        stop_pair(copy_pair)


def copy_process_pid(supervisor_pid: int) -> int:
    """The supervised copy process: the supervisor's only child."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError(f"the supervisor {supervisor_pid} runs no copy process")


def wait_for_new_token(target: Any, previous: Any) -> Any:
    """Until the copy has recorded a resume token other than previous (so a kill lands on a resumable copy)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = read_state(target, DATABASE)
        if state is not None and state.resume_token is not None and state.resume_token != previous:
            return state.resume_token
        time.sleep(0.05)
    raise AssertionError("the copy recorded no new resume token")


def test_kill_9_of_the_copy_resumes_from_its_token(pair: CopyPair) -> None:
    source, target = pair.clients()
    source[DATABASE].items.insert_many([{"_id": i, "v": 0} for i in range(500)])
    started = run_copy(pair.request())
    assert started.running and started.pid

    stop = threading.Event()
    count = [0]

    def writer() -> None:
        while not stop.is_set():
            number = count[0]
            source[DATABASE].log.insert_one({"_id": number})
            source[DATABASE].items.update_one({"_id": number % 500}, {"$set": {"v": number}})
            if number % 5 == 0:
                source[DATABASE].items.delete_one({"_id": f"tmp{number - 5}"})
                source[DATABASE].items.insert_one({"_id": f"tmp{number}"})
            count[0] = number + 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        token = None
        for _round in range(2):
            token = wait_for_new_token(target, token)
            victim = copy_process_pid(started.pid)
            os.kill(victim, signal.SIGKILL)
            # The supervisor starts a new one (after its backoff) that resumes from the state document's token.
            deadline = time.monotonic() + 30
            while copy_process_pid(started.pid) == victim:
                assert time.monotonic() < deadline, "the supervisor did not restart the copy"
                time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert count[0] > 50
    wait_source_write(source, target, timeout=45)
    assert contents(target) == contents(source)
    assert target[DATABASE].log.count_documents({}) == count[0]
    state = read_state(target, DATABASE)
    assert state is not None and state.status == "running" and state.gap is None
    log = Path(started.log_path or "").read_text()
    # A restarted copy opens its stream from the token (a kill may also land before the stream was open).
    assert log.count("exited with -9; restarting") == 2, log[-3000:]
    assert log.count('"token": true') >= 2, log[-3000:]
    status = run_copy(pair.request(state="status"))
    assert status.running and status.pid == started.pid and not status.changed

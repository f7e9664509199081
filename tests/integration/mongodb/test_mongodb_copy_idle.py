"""An idle copy keeps up: with no write on the copied database, only writes elsewhere on the source (the
cutover's own state, another database), the copy's applied time follows the source's newest write, so a sync
(replication_sync kind=mongodb) of an idle application reaches a small lag instead of growing by a second per
second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import run_copy
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import read_lag
from tests.integration.mongodb.test_mongodb_copy import DATABASE, CopyPair, start_pair, stop_pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[CopyPair]:
    copy_pair = start_pair(tmp_path)
    try:
        yield copy_pair
    finally:
        try:
            run_copy(copy_pair.request(state="absent"))
        finally:
            stop_pair(copy_pair)


def test_an_idle_copy_follows_the_source_s_writes_to_other_databases(pair: CopyPair) -> None:
    blue, green = pair.clients()
    blue[DATABASE].orders.insert_many([{"_id": i} for i in range(10)])
    assert run_copy(pair.request()).running
    deadline = time.monotonic() + 60
    lags = []
    while time.monotonic() < deadline:
        # Writes elsewhere on the source, one a second, as the cutover's state records are.
        blue.dbops.cutover_state.update_one({"_id": "default"}, {"$set": {"at": time.time()}}, upsert=True)
        reading = read_lag(blue, green, DATABASE, [])
        lags.append(reading.lag_seconds)
        if len(lags) >= 8:
            break
        time.sleep(1)
    assert len(lags) >= 8, lags
    assert max(lags[-3:]) <= 2, f"the idle copy's lag grows: {lags}"

"""Lag arithmetic and the catch-up rule, from recorded replies: a primary's pg_stat_replication row for a physical
standby, a publisher's slot row, and hello replies of a replica set; the wait loop on a fake clock."""

from __future__ import annotations

import datetime

import pytest
from bson.timestamp import Timestamp

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.replication_sync import (
    ReplicationSyncRequest,
    validate,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication import mongo_copy_lag
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.lag import CatchUpRule, LagReading
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.postgres_lag import reading_from_row
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.wait import (
    ReplicationTimeout,
    wait_for_catch_up,
)

# PHYSICAL_SQL on a primary with a streaming standby "standby1" 3 MiB behind, replay_lag 1.25 s.
STANDBY_BEHIND = {"name": "standby1", "replica_lsn": "0/5000060", "sent_lsn": "0/5300000",
                  "source_lsn": "0/5300000", "lag_bytes": 3145632, "replay_lag_s": 1.250348}
# The same standby idle and caught up: replay_lag has turned NULL, replay_lsn = sent_lsn.
STANDBY_IDLE = {"name": "standby1", "replica_lsn": "0/5300148", "sent_lsn": "0/5300148",
                "source_lsn": "0/5300148", "lag_bytes": 0, "replay_lag_s": None}
# LOGICAL_SQL for a slot whose subscriber is disconnected (no walsender: sent_lsn and replay_lag NULL).
SLOT_INACTIVE = {"name": "green_sub", "replica_lsn": "0/1A2B3C4", "sent_lsn": None, "source_lsn": "1/00000010",
                 "lag_bytes": None, "replay_lag_s": None}

# hello of a replica set member (MongoDB 7): lastWrite.opTime.ts is the newest write.
REPLICA_SET_HELLO = {
    "topologyVersion": {"counter": 6}, "hosts": ["db1:27017", "db2:27017", "db3:27017"], "setName": "rs0",
    "setVersion": 3, "isWritablePrimary": True, "secondary": False, "primary": "db1:27017", "me": "db1:27017",
    "lastWrite": {"opTime": {"ts": Timestamp(1796235965, 7), "t": 4},
                  "lastWriteDate": datetime.datetime(2026, 12, 2, 18, 26, 5),
                  "majorityOpTime": {"ts": Timestamp(1796235963, 2), "t": 4}},
    "operationTime": Timestamp(1796235965, 7), "ok": 1.0}
STANDALONE_HELLO = {"isWritablePrimary": True, "maxWireVersion": 21, "ok": 1.0}


def test_a_physical_standby_behind_reports_bytes_and_replay_lag() -> None:
    reading = reading_from_row(STANDBY_BEHIND)
    assert reading.lag_bytes == 3145632 and reading.lag_seconds == pytest.approx(1.250348)
    assert reading.source_position - reading.replica_position == 0x5300000 - 0x5000060
    assert not CatchUpRule(max_lag_bytes=1 << 20).satisfied_by(reading)
    assert CatchUpRule(max_lag_bytes=4 << 20, max_lag_seconds=2).satisfied_by(reading)
    assert not CatchUpRule(max_lag_bytes=4 << 20, max_lag_seconds=1).satisfied_by(reading)


def test_an_idle_standby_with_everything_replayed_lags_zero_seconds() -> None:
    reading = reading_from_row(STANDBY_IDLE)
    assert reading.lag_seconds == 0.0 and reading.lag_bytes == 0


def test_a_disconnected_subscriber_has_an_unknown_lag_that_passes_no_limit() -> None:
    reading = reading_from_row(SLOT_INACTIVE)
    assert reading.lag_seconds is None
    assert reading.lag_bytes == (1 << 32) + 0x10 - 0x1A2B3C4  # computed here when the server gave none
    assert not CatchUpRule(max_lag_seconds=3600).satisfied_by(reading)
    assert CatchUpRule(max_lag_bytes=1 << 33).satisfied_by(reading)


def test_a_target_is_reached_at_or_past_it_whatever_the_lag() -> None:
    reading = reading_from_row(STANDBY_BEHIND)  # replica at 0/5000060
    assert CatchUpRule(target=0x5000060, max_lag_bytes=0).satisfied_by(reading)
    assert not CatchUpRule(target=0x5000061).satisfied_by(reading)
    assert CatchUpRule(target=0x5000070).remaining(reading) == 0x10


def test_a_copy_lags_by_the_seconds_between_cluster_times() -> None:
    reading = mongo_copy_lag.reading_from(REPLICA_SET_HELLO, Timestamp(1796235960, 3))
    assert reading.lag_seconds == 5.0 and reading.lag_bytes is None
    assert reading.source_text == "1796235965:7" and reading.replica_text == "1796235960:3"
    assert mongo_copy_lag.parse_cluster_time("1796235965:7") == reading.source_position
    same_second = mongo_copy_lag.reading_from(REPLICA_SET_HELLO, Timestamp(1796235965, 6))
    assert same_second.lag_seconds == 0.0 and same_second.replica_position < same_second.source_position


def test_the_newest_cluster_time_needs_a_replica_set_or_an_operation_time() -> None:
    assert mongo_copy_lag.newest_cluster_time({"operationTime": Timestamp(5, 1)}) == Timestamp(5, 1)
    with pytest.raises(DbopsError, match="no cluster time"):
        mongo_copy_lag.newest_cluster_time(STANDALONE_HELLO)
    with pytest.raises(DbopsError, match="invalid cluster time"):
        mongo_copy_lag.parse_cluster_time("2026-12-02T18:00:00Z")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _reader(positions: list[int]):
    calls: list[list[str]] = []

    def read(queries: list[str]) -> LagReading:
        queries.append("SELECT lag")
        calls.append(queries)
        position = positions[min(len(calls), len(positions)) - 1]
        return LagReading(position, 100, 100 - position, 0.5, f"0/{position:X}", "0/64")

    return read, calls


def test_the_wait_polls_until_the_target_and_records_the_first_poll_only() -> None:
    clock = FakeClock()
    read, calls = _reader([10, 50, 100])
    queries: list[str] = []
    outcome = wait_for_catch_up(read, CatchUpRule(target=100), timeout=10, poll_interval=0.5, queries=queries,
                                clock=clock, sleep=clock.sleep)
    assert outcome.caught_up and outcome.polls == 3 and outcome.waited_ms == 1000
    assert queries == ["SELECT lag"] and clock.slept == [0.5, 0.5]


def test_the_wait_times_out_with_the_last_reading_and_check_mode_never_waits() -> None:
    clock = FakeClock()
    read = _reader([10])[0]
    with pytest.raises(ReplicationTimeout) as raised:
        wait_for_catch_up(read, CatchUpRule(target=100), timeout=2, poll_interval=0.5, queries=[], clock=clock,
                          sleep=clock.sleep)
    assert raised.value.reading.replica_position == 10 and raised.value.waited_ms == 2000
    assert "did not catch up within 2s" in str(raised.value)
    clock = FakeClock()
    checked = wait_for_catch_up(read, CatchUpRule(target=100), timeout=2, poll_interval=0.5, queries=[],
                                check_mode=True, clock=clock, sleep=clock.sleep)
    assert not checked.caught_up and checked.waited_ms == 0 and clock.slept == []


@pytest.mark.parametrize(("options", "message"), [
    ({"kind": "logical"}, "needs replica_name"),
    ({"kind": "physical", "replica_name": "s1", "target_time": "1:1"}, "target_time is for a MongoDB copy"),
    ({"kind": "physical", "replica_name": "s1", "target_lsn": "nope"}, "invalid LSN"),
    ({"kind": "mongodb", "copy_uri": "mongodb://green", "max_lag_bytes": 10}, "no lag in bytes"),
    ({"kind": "mongodb"}, "needs copy_uri"),
    ({"kind": "logical", "replica_name": "s", "timeout": 0}, "must be > 0"),
])
def test_arguments_are_checked_before_anything_connects(options: dict, message: str) -> None:
    source = DatabaseConnections(postgres_dsn="postgresql://u@h/db", mongodb_uri="mongodb://blue",
                                 mongodb_database="app")
    with pytest.raises(DbopsError, match=message):
        validate(ReplicationSyncRequest(source=source, **options))

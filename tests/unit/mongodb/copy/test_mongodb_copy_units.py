"""The copy's pure parts: names and paths, the gap rule, health from the state document, waiting for a position,
the process configuration and the job's argument checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import bson
import pytest
from bson.timestamp import Timestamp

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import (
    MongoCopyRequest,
    config_for,
    validate,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.batch_apply import update_operation
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import (
    CopyError,
    CopyGapDetected,
    CopyWaitTimeout,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.gap_check import (
    gap_message,
    oldest_oplog_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.health import health_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.layout import CopyLayout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.process import CopyConfig, timestamp_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.resume_token import token_cluster_time
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import as_position, wait_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import CopyState


def test_layout_paths_and_refusals() -> None:
    layout = CopyLayout("/srv/cutover", "blue_to_green")
    assert layout.directory == "/srv/cutover/mongodb-copy/blue_to_green"
    assert layout.config_file.endswith("/conf/copy.json") and layout.pid_file.endswith("/run/copy.pid")
    with pytest.raises(CopyError, match="direction must be one of"):
        CopyLayout("/srv/cutover", "to_green")
    with pytest.raises(CopyError, match="absolute"):
        CopyLayout("relative", "green_to_blue")


@pytest.mark.parametrize(("resume", "oldest", "gap"), [
    (Timestamp(100, 5), Timestamp(100, 5), False),
    (Timestamp(100, 5), Timestamp(99, 9), False),
    (Timestamp(100, 5), Timestamp(100, 6), True),
    (Timestamp(100, 5), None, False),
    (None, Timestamp(100, 6), False),
])
def test_gap_only_when_the_oldest_entry_is_past_the_resume_point(resume: Any, oldest: Any, gap: bool) -> None:
    message = gap_message("app", resume, oldest)
    assert (message is not None) == gap
    if gap:
        assert "100:5" in (message or "") and "100:6" in (message or "") and "prepare again" in (message or "")


class _Collection:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents
        self.calls: list[tuple[Any, ...]] = []

    def find_one(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        self.calls.append((args, kwargs))
        return self.documents.pop(0) if len(self.documents) > 1 else (self.documents[0] if self.documents else None)


class _Client(dict):
    """client[db][collection] -> the one fake collection."""

    def __init__(self, collection: _Collection) -> None:
        super().__init__()
        self.collection = collection

    def __getitem__(self, _name: str) -> Any:
        return {"oplog.rs": self.collection, "replication_state": self.collection}

    @property
    def local(self) -> Any:
        return self["local"]


def test_oldest_entry_is_read_in_natural_order_without_a_ts_filter() -> None:
    collection = _Collection([{"ts": Timestamp(7, 1)}])
    queries: list[str] = []
    assert oldest_oplog_time(_Client(collection), queries) == Timestamp(7, 1)
    (args, kwargs), = collection.calls
    assert args[0] == {} and kwargs["sort"] == [("$natural", 1)]
    assert "$natural: 1" in queries[0]


def _state(**fields: Any) -> CopyState:
    base: dict[str, Any] = {"source_database": "app", "applied": Timestamp(10, 2), "resume_token": {"_data": "x"},
                            "updated_at": utc_now(), "status": "running", "heartbeat_at": utc_now()}
    base.update(fields)
    return CopyState(**base)


def test_health_needs_a_fresh_heartbeat_and_no_gap() -> None:
    assert health_of(_state()).healthy
    assert health_of(_state()).to_dict()["applied_text"] == "10:2"
    assert not health_of(_state(heartbeat_at=utc_now() - timedelta(seconds=60))).running
    assert not health_of(_state(status="stopped")).running
    gapped = health_of(_state(gap="hole"))
    assert not gapped.running and gapped.gap == "hole"
    assert not health_of(None).running and health_of(None).status is None


def test_positions_in_every_spelling() -> None:
    assert as_position(Timestamp(3, 4)) == as_position("3:4") == (3 << 32) | 4 == as_position((3 << 32) | 4)


def test_wait_applied_returns_times_out_and_stops_at_a_gap() -> None:
    behind = {"_id": "app", "applied": Timestamp(10, 1)}
    ahead = {"_id": "app", "applied": Timestamp(10, 3)}
    assert wait_applied(_Client(_Collection([behind, behind, ahead])), "app", "10:3", 5, poll_interval=0.001) >= 0
    with pytest.raises(CopyWaitTimeout, match="has applied 10:1 .* not yet 10:3"):
        wait_applied(_Client(_Collection([behind])), "app", Timestamp(10, 3), 0.05, poll_interval=0.01)
    with pytest.raises(CopyGapDetected, match="hole"):
        wait_applied(_Client(_Collection([{**behind, "gap": "hole"}])), "app", "10:3", 5)


def test_config_round_trip_and_start_at() -> None:
    config = CopyConfig(source_uri="mongodb://a", target_uri="mongodb://b", database="app",
                        direction="green_to_blue", initial_copy=False, start_at="5:6")
    assert CopyConfig.from_dict(config.to_dict()) == config
    assert timestamp_of("5:6") == Timestamp(5, 6)


def _request(**fields: Any) -> MongoCopyRequest:
    base: dict[str, Any] = {"source_uri": "mongodb://a", "target_uri": "mongodb://b", "database": "app",
                            "direction": "blue_to_green", "cutover_dir": "/srv/cutover"}
    base.update(fields)
    return MongoCopyRequest(**base)


@pytest.mark.parametrize(("fields", "message"), [
    ({"state": "present"}, "state must be one of"),
    ({"direction": "to_green"}, "direction must be one of"),
    ({"database": "dbops"}, "cannot be copied"),
    ({"database": "admin"}, "cannot be copied"),
    ({"start_at": "yesterday"}, "invalid cluster time"),
    ({"timeout": 0}, "timeout must be > 0"),
])
def test_job_refuses_bad_arguments(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DbopsError, match=message):
        validate(_request(**fields))


def test_start_at_means_no_initial_copy() -> None:
    assert config_for(_request()).initial_copy is True
    reverse = config_for(_request(direction="green_to_blue", start_at="9:1"))
    assert reverse.initial_copy is False and reverse.start_at == "9:1"


def test_update_descriptions_as_set_and_unset() -> None:
    assert update_operation({"updatedFields": {"a.1": 5, "b": {"c": 1}}, "removedFields": ["x"],
                             "truncatedArrays": [], "disambiguatedPaths": {}}) == {
        "$set": {"a.1": 5, "b": {"c": 1}}, "$unset": {"x": ""}}
    assert update_operation({"updatedFields": {}, "removedFields": []}) == {}
    # Only the replay path knows how to shorten an array or read a field named like an index.
    assert update_operation({"truncatedArrays": [{"field": "a", "newSize": 1}]}) is None
    assert update_operation({"updatedFields": {"a.1": 1}, "disambiguatedPaths": {"a.1": ["a", "1"]}}) is None


def test_cluster_time_of_both_token_formats() -> None:
    secantus = {"_data": bson.encode({"s": 7, "t": Timestamp(100, 3), "n": "app.x", "k": {}}).hex()}
    assert token_cluster_time(secantus) == Timestamp(100, 3)
    keystring = {"_data": "82" + (100).to_bytes(4, "big").hex() + (3).to_bytes(4, "big").hex() + "2b0229"}
    assert token_cluster_time(keystring) == Timestamp(100, 3)
    assert token_cluster_time({"_data": "zz"}) is None and token_cluster_time(None) is None
    assert token_cluster_time({"_data": "aa"}) is None


def test_wait_applied_with_the_source_waits_no_further_than_its_newest_entry() -> None:
    # The reply's operationTime (10:9) is past the source's newest oplog entry (10:3), which the copy has applied.
    target = _Client(_Collection([{"_id": "app", "applied": Timestamp(10, 3)}]))
    source = _Client(_Collection([{"ts": Timestamp(10, 3)}]))
    queries: list[str] = []
    assert wait_applied(target, "app", "10:9", 1, source_client=source, queries=queries) >= 0
    assert "$natural: -1" in queries[0] and "10:3" in queries[1]
    with pytest.raises(CopyWaitTimeout):
        wait_applied(target, "app", "10:9", 0.05, poll_interval=0.01)

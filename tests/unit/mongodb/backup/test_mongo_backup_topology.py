"""Topology and snapshot-read detection from recorded (and documented) server replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bson import Timestamp, json_util

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.topology import (
    classify_topology,
    interpret_snapshot_probe,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json_util.loads((FIXTURES / name).read_text())


def classify(data: dict):
    return classify_topology(data["hello"], build_info=data.get("buildInfo"),
                             repl_status=data.get("replSetGetStatus"), oplog_probe=data.get("oplog_probe"))


def test_secantus_single_node_replica_set_has_a_readable_oplog():
    topo = classify(load("secantus_replset.json"))
    assert topo.kind == "replica_set"
    assert topo.set_name == "secantus"
    assert topo.member_state == "PRIMARY"
    assert topo.oplog_readable and topo.capture_mode == "oplog"
    assert isinstance(topo.oplog_first, Timestamp) and topo.oplog_first <= topo.oplog_last
    assert topo.server_version.startswith("8.")
    assert topo.cluster_time is not None


def test_secantus_standalone_has_no_capture_path():
    data = load("secantus_standalone.json")
    assert data["replSetGetStatus"]["code"] == 76
    topo = classify(data)
    assert topo.kind == "standalone"
    assert topo.capture_mode is None
    assert not topo.change_streams


def test_mongod_standalone():
    topo = classify(load("mongod_standalone.json"))
    assert topo.kind == "standalone" and topo.capture_mode is None


def test_mongos_uses_change_streams():
    topo = classify(load("mongos.json"))
    assert topo.kind == "sharded"
    assert not topo.oplog_readable
    assert topo.capture_mode == "change_stream"


def test_secondary_without_local_access_falls_back_to_change_streams():
    topo = classify(load("mongod_secondary_no_local_access.json"))
    assert topo.kind == "replica_set" and topo.member_state == "SECONDARY"
    assert not topo.oplog_readable
    assert topo.capture_mode == "change_stream"
    assert any("not readable" in note for note in topo.notes)


def test_to_dict_is_json_serialisable():
    json.dumps(classify(load("secantus_replset.json")).to_dict())


def test_secantus_does_not_honour_at_cluster_time():
    probe = load("secantus_replset.json")["snapshot_probe"]
    support = interpret_snapshot_probe(probe["requested"], probe["reply"])
    assert not support.supported
    assert "not honoured" in support.reason


def test_a_server_that_echoes_the_requested_time_supports_snapshots():
    probe = load("mongod_secondary_no_local_access.json")["snapshot_probe"]
    assert interpret_snapshot_probe(probe["requested"], probe["reply"]).supported


@pytest.mark.parametrize("reply", [
    {"ok": 0.0, "code": 239, "errmsg": "SnapshotTooOld"},
    {"ok": 1.0, "cursor": {"firstBatch": [], "id": 0}},
])
def test_refused_or_silent_snapshot_reads_are_unsupported(reply):
    assert not interpret_snapshot_probe(Timestamp(10, 1), reply).supported


def test_a_listed_oplog_is_enough_to_tail_it():
    data = load("secantus_replset.json")
    topo = classify_topology(data["hello"], repl_status=data["replSetGetStatus"],
                             oplog_probe={"ok": 1, "present": True})
    assert topo.oplog_readable and topo.oplog_first is None and topo.capture_mode == "oplog"
    missing = classify_topology(data["hello"], repl_status=data["replSetGetStatus"],
                                oplog_probe={"ok": 1, "present": False})
    assert missing.capture_mode == "change_stream"

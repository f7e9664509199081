"""Topology detection and the replica-set-only paths (replSetGetStatus, the oplog), on recorded replies."""

from __future__ import annotations

from pathlib import Path

import pytest
from bson import json_util
from pymongo.errors import OperationFailure

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import topology

FIXTURES = Path(__file__).parent / "fixtures"


def reply(name: str) -> dict:
    return json_util.loads((FIXTURES / name).read_text())


class FakeClient:
    """Answers hello/replSetGetStatus and the oplog's first/last entry from recorded replies (unit tests only)."""

    def __init__(self, hello: str, status: str | None = None, oplog: str | None = None) -> None:
        self.replies = {"hello": reply(hello), "replSetGetStatus": reply(status) if status else None}
        self.oplog = reply(oplog) if oplog else None
        self.admin = self
        self.local = {"oplog.rs": self}

    def command(self, name: str):
        answer = self.replies[name]
        if answer is None or answer.get("ok") != 1:
            answer = answer or {"ok": 0, "code": 76, "errmsg": "not running with --replSet"}
            raise OperationFailure(answer["errmsg"], answer["code"], answer)
        return answer

    def find_one(self, _filter, _projection, sort):
        if self.oplog is None:
            raise OperationFailure("not authorized on local", 13, {"ok": 0, "code": 13})
        return self.oplog["first" if sort[0][1] == 1 else "last"]


def test_secantus_replica_set_supports_transactions():
    topo = topology.parse_hello(reply("secantus_replica_set_hello.json"))
    assert topo.kind == "replica_set" and topo.transactions and topo.set_name == "secantus"
    assert topo.writable_primary and topo.last_write_ts is not None


def test_secantus_standalone_has_no_transactions():
    topo = topology.parse_hello(reply("secantus_standalone_hello.json"))
    assert topo.kind == "standalone" and not topo.transactions
    assert "per-document marker" in topo.notes[0]
    status = topology.parse_repl_status(reply("secantus_standalone_replSetGetStatus.json"))
    assert not status.available and "NoReplicationEnabled" in status.notes[0]
    assert topology.parse_oplog_window(**reply("secantus_standalone_oplog_first_last.json")) is None


def test_secantus_replica_set_status_and_oplog():
    status = topology.parse_repl_status(reply("secantus_replica_set_replSetGetStatus.json"))
    assert status.available and status.primary and status.max_lag_s == 0.0
    assert topology.write_concern_for(status) == {"w": 1}  # a single data-bearing member
    window = topology.parse_oplog_window(**reply("secantus_replica_set_oplog_first_last.json"))
    assert window is not None and window.seconds is not None and window.seconds >= 0


def test_three_member_replica_set_lag_and_unhealthy_member():
    topo = topology.parse_hello(reply("mongod_rs3_primary_hello.json"))
    assert topo.kind == "replica_set" and topo.transactions and len(topo.hosts) == 3
    status = topology.parse_repl_status(reply("mongod_rs3_replSetGetStatus.json"))
    lags = {m.name: m.lag_s for m in status.members}
    assert lags == {"db1.internal:27017": None, "db2.internal:27017": 12.0, "db3.internal:27017": None}
    assert status.primary == "db1.internal:27017" and status.data_bearing_healthy == 2
    assert any("db3.internal:27017 is unreachable" in n for n in status.notes)
    assert topology.write_concern_for(status) == {"w": "majority"}


def test_secondary_is_not_a_writable_primary():
    topo = topology.parse_hello(reply("mongod_rs3_secondary_hello.json"))
    assert topo.kind == "replica_set" and not topo.writable_primary
    assert any("not the primary" in n for n in topo.notes)


def test_mongos_and_old_replica_sets():
    mongos = topology.parse_hello(reply("mongos_hello.json"))
    assert mongos.kind == "sharded" and mongos.transactions
    old = topology.parse_hello(reply("mongod36_rs_ismaster.json"))
    assert old.kind == "replica_set" and not old.transactions and old.writable_primary  # legacy ismaster


@pytest.mark.parametrize(("hello", "status", "oplog", "expected"), [
    ("secantus_replica_set_hello.json", "secantus_replica_set_replSetGetStatus.json",
     "secantus_replica_set_oplog_first_last.json", []),
    ("secantus_standalone_hello.json", None, None, ["standalone deployment"]),
    ("mongod_rs3_primary_hello.json", "mongod_rs3_replSetGetStatus.json",
     "secantus_replica_set_oplog_first_last.json",
     ["db3.internal:27017 is unreachable", "db2.internal:27017 is 12s behind", "the oplog covers only"]),
    ("mongod_rs3_primary_hello.json", "mongod_rs3_replSetGetStatus.json", None,
     ["db3.internal:27017 is unreachable", "db2.internal:27017 is 12s behind"]),
])
def test_preflight_notes(hello, status, oplog, expected):
    notes = topology.preflight_notes(FakeClient(hello, status, oplog))
    assert len(notes) == len(expected)
    for note, fragment in zip(notes, expected, strict=True):
        assert fragment in note


class FullFakeClient(FakeClient):
    """FakeClient that also answers buildInfo and lists the local database (a backup's full detection)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.replies["buildInfo"] = {"ok": 1, "version": "8.0.0"}
        self.local = self

    def __getitem__(self, name: str):
        return self

    def list_collection_names(self):
        if self.oplog is None:
            raise OperationFailure("not authorized on local", 13, {"ok": 0, "code": 13})
        return ["oplog.rs", "startup_log"]


def test_migrations_and_backups_read_one_detection():
    """The same replies give one Topology: transactions for migrations, the oplog for backups."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.topology import detect_topology

    client = FullFakeClient("secantus_replica_set_hello.json", "secantus_replica_set_replSetGetStatus.json",
                            "secantus_replica_set_oplog_first_last.json")
    full = detect_topology(client)
    assert isinstance(full, topology.Topology)
    assert full.kind == "replica_set" and full.transactions and full.member_state == "PRIMARY"
    assert full.oplog_readable and full.capture_mode == "oplog" and full.server_version == "8.0.0"
    quick = topology.detect(client)
    assert (quick.kind, quick.transactions, quick.set_name) == (full.kind, full.transactions, full.set_name)
    assert quick.member_state is None and not quick.oplog_readable  # hello only: nothing more was asked
    bounded = detect_topology(client, with_oplog_bounds=True)
    assert bounded.oplog_first is not None and bounded.oplog_first <= bounded.oplog_last


def test_replication_turned_off_overrides_hello():
    hello = reply("secantus_replica_set_hello.json")
    topo = topology.classify(hello, repl_status={"ok": 0, "code": 76, "errmsg": "not running with --replSet"})
    assert topo.kind == "standalone" and not topo.transactions and topo.capture_mode is None
    assert any("replication is off" in note for note in topo.notes)


def test_an_unreadable_oplog_falls_back_to_change_streams():
    client = FullFakeClient("secantus_replica_set_hello.json", "secantus_replica_set_replSetGetStatus.json")
    topo = topology.detect(client, full=True)
    assert topo.kind == "replica_set" and not topo.oplog_readable and topo.capture_mode == "change_stream"
    assert any("not readable by this user" in note for note in topo.notes)


def test_to_dict_carries_both_views_and_is_json():
    import json

    topo = topology.classify(reply("mongod_rs3_primary_hello.json"))
    data = json.loads(json.dumps(topo.to_dict()))
    assert data["kind"] == "replica_set" and data["transactions"] and len(data["hosts"]) == 3
    assert data["capture_mode"] == "change_stream" and data["oplog_first"] is None

"""What kind of MongoDB deployment a URI reaches, and which backup paths it allows.

Replica-set-only paths (local.oplog.rs, replSetGetStatus, change streams, snapshot reads) are never assumed: they are
read from the server's replies. classify_topology() is a pure function of those replies, so it is unit-tested on
recorded replies (tests/unit/mongodb/backup/fixtures/); detect_topology() collects them from a live server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.driver import (
    pymongo_errors,
    require_driver,
)

NO_REPLICATION_ENABLED = 76
UNAUTHORIZED = 13
SNAPSHOT_TOO_OLD = 239


@dataclass
class Topology:
    kind: str  # "replica_set" | "sharded" | "standalone"
    server_version: str | None = None
    set_name: str | None = None
    member_state: str | None = None  # PRIMARY, SECONDARY, ... from replSetGetStatus
    writable_primary: bool = False
    oplog_readable: bool = False  # local.oplog.rs exists and this user may read it
    oplog_first: Any = None  # Timestamp of the oldest oplog entry
    oplog_last: Any = None
    change_streams: bool = False
    cluster_time: Any = None  # $clusterTime of the hello reply
    notes: list[str] = field(default_factory=list)

    @property
    def capture_mode(self) -> str | None:
        """How changes after a dump can be captured: "oplog", "change_stream", or None (standalone)."""
        if self.oplog_readable:
            return "oplog"
        if self.change_streams:
            return "change_stream"
        return None

    def to_dict(self) -> dict[str, Any]:
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import ts_to_dict

        return {
            "kind": self.kind, "server_version": self.server_version, "set_name": self.set_name,
            "member_state": self.member_state, "writable_primary": self.writable_primary,
            "oplog_readable": self.oplog_readable, "oplog_first": ts_to_dict(self.oplog_first),
            "oplog_last": ts_to_dict(self.oplog_last), "change_streams": self.change_streams,
            "capture_mode": self.capture_mode, "notes": list(self.notes),
        }


def _error_code(reply: dict[str, Any] | None) -> int | None:
    if not reply or reply.get("ok", 1) == 1:
        return None
    return int(reply.get("code", -1))


def classify_topology(hello: dict[str, Any], *, build_info: dict[str, Any] | None = None,
                      repl_status: dict[str, Any] | None = None,
                      oplog_probe: dict[str, Any] | None = None) -> Topology:
    """Topology from server replies.

    hello: the hello (or isMaster) reply. build_info: buildInfo's reply. repl_status: replSetGetStatus's reply, or its
    error reply ({"ok": 0, "code": ...}). oplog_probe: {"present": bool} from listing the local database, or
    {"first": <oldest entry or None>, "last": <newest or None>} when local.oplog.rs was read, or
    {"ok": 0, "code": ...} when that failed; None when not tried.
    """
    topo = Topology(kind="standalone")
    topo.server_version = (build_info or {}).get("version")
    topo.cluster_time = (hello.get("$clusterTime") or {}).get("clusterTime")
    topo.writable_primary = bool(hello.get("isWritablePrimary", hello.get("ismaster", False)))
    if hello.get("msg") == "isdbgrid":
        topo.kind = "sharded"
        topo.change_streams = True
        topo.notes.append("mongos: the shards' oplogs are not readable through it; changes come from a change stream")
        return topo
    if hello.get("setName"):
        topo.kind = "replica_set"
        topo.set_name = hello["setName"]
        topo.change_streams = True
    code = _error_code(repl_status)
    if repl_status is not None and code is None:
        topo.kind = "replica_set"
        topo.set_name = topo.set_name or repl_status.get("set")
        topo.change_streams = True
        state = repl_status.get("myState")
        topo.member_state = {1: "PRIMARY", 2: "SECONDARY", 7: "ARBITER"}.get(state, f"STATE_{state}")
    elif code == NO_REPLICATION_ENABLED:
        if topo.kind == "replica_set":
            topo.notes.append("hello names a replica set but replSetGetStatus says replication is off")
        topo.kind = "standalone"
        topo.change_streams = False
    elif code == UNAUTHORIZED:
        topo.notes.append("replSetGetStatus not authorized for this user; topology taken from hello")
    if topo.kind == "replica_set" and oplog_probe is not None:
        probe_code = _error_code(oplog_probe)
        first = oplog_probe.get("first") if probe_code is None else None
        last = oplog_probe.get("last") if probe_code is None else None
        if first is not None and last is not None:
            topo.oplog_readable = True
            topo.oplog_first = first.get("ts")
            topo.oplog_last = last.get("ts")
        elif probe_code is None and oplog_probe.get("present"):
            topo.oplog_readable = True
        elif probe_code == UNAUTHORIZED:
            topo.notes.append("local.oplog.rs is not readable by this user; changes come from a change stream")
        else:
            topo.notes.append("local.oplog.rs is empty or missing; changes come from a change stream")
    return topo


def _reply_or_error(call) -> dict[str, Any]:
    try:
        return dict(call())
    except pymongo_errors.OperationFailure as exc:
        return {"ok": 0, "code": exc.code, "errmsg": str(exc)}


def oplog_bounds(client) -> dict[str, Any]:
    """The oldest and newest oplog entries (their ts and wall), or an error reply."""
    return _reply_or_error(lambda: {"ok": 1, "first": oplog_edge(client, oldest=True),
                                    "last": oplog_edge(client, oldest=False)})


def oplog_edge(client, *, oldest: bool) -> dict[str, Any] | None:
    """The oldest (or newest) oplog entry's ts and wall."""
    return client.local["oplog.rs"].find_one({}, {"ts": 1, "wall": 1}, sort=[("$natural", 1 if oldest else -1)])


def oplog_present(client) -> dict[str, Any]:
    """Whether local.oplog.rs exists and local may be listed: a cheap probe (on SecantusDB every query of the oplog
    reads all of it, seconds at 100,000 entries)."""
    return _reply_or_error(lambda: {"ok": 1, "present": "oplog.rs" in client.local.list_collection_names()})


def detect_topology(client, *, with_oplog_bounds: bool = False) -> Topology:
    """with_oplog_bounds: also read the oldest and newest oplog entries (two full oplog reads on SecantusDB)."""
    require_driver()
    hello = client.admin.command("hello")
    build_info = _reply_or_error(lambda: client.admin.command("buildInfo"))
    repl_status = None
    if hello.get("msg") != "isdbgrid":
        repl_status = _reply_or_error(lambda: client.admin.command("replSetGetStatus"))
    probe = None
    if hello.get("setName") or (repl_status and repl_status.get("ok") == 1):
        probe = oplog_bounds(client) if with_oplog_bounds else oplog_present(client)
    return classify_topology(hello, build_info=build_info, repl_status=repl_status, oplog_probe=probe)


@dataclass(frozen=True)
class SnapshotSupport:
    supported: bool
    reason: str


def interpret_snapshot_probe(requested, reply: dict[str, Any]) -> SnapshotSupport:
    """Whether a find with readConcern {level: snapshot, atClusterTime: requested} was really served at that time.

    requested is deliberately older than the newest write: a server that ignores atClusterTime answers with its
    latest time (SecantusDB does), one that honours it echoes requested back in cursor.atClusterTime.
    """
    code = _error_code(reply)
    if code is not None:
        return SnapshotSupport(False, f"snapshot read refused (code {code}: {reply.get('errmsg', '')})")
    served = (reply.get("cursor") or {}).get("atClusterTime")
    if served is None:
        return SnapshotSupport(False, "the server does not report the snapshot's atClusterTime")
    if served != requested:
        return SnapshotSupport(False, f"asked for a snapshot at {requested}, the server read at {served}: "
                                      "atClusterTime is not honoured")
    return SnapshotSupport(True, f"snapshot reads at a chosen cluster time are honoured ({served})")


def probe_snapshot_reads(client, database: str, collection: str, newest) -> SnapshotSupport:
    """Ask for a snapshot read one tick before newest (the newest write's ts) and see what the server did."""
    require_driver()
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.driver import Timestamp

    if newest is None or (newest.time <= 1 and newest.inc <= 1):
        return SnapshotSupport(False, "no write history to probe snapshot reads against")
    earlier = Timestamp(newest.time, newest.inc - 1) if newest.inc > 1 else Timestamp(newest.time - 1, 2**31)
    reply = _reply_or_error(lambda: client[database].command({
        "find": collection, "batchSize": 0, "readConcern": {"level": "snapshot", "atClusterTime": earlier},
    }))
    return interpret_snapshot_probe(earlier, reply)

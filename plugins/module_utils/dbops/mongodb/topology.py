"""The one detection of what a MongoDB deployment is and offers: its kind, transactions, an oplog, change streams,
a replica set's health.

Nothing is assumed from the URI: the answers come from the server's replies (hello, buildInfo, replSetGetStatus, the
oplog's first and last entries). classify() is a pure function of those replies, so the replica-set paths are
unit-tested on recorded replies (tests/unit/mongodb/fixtures/, tests/unit/mongodb/backup/fixtures/) even where the
tests only have a single-node server. Migrations read the Topology for transactions and the primary; backups read
the same record for the oplog and change streams (mongodb/backup/topology.py decides their paths from it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    UNAUTHORIZED,
    pymongo_errors,
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import ts_to_dict

# Multi-document transactions: replica sets since 4.0 (wire version 7), sharded clusters since 4.2 (wire 8).
_REPLICA_SET_TXN_WIRE = 7
_SHARDED_TXN_WIRE = 8
NO_REPLICATION_ENABLED = 76
NOT_YET_INITIALIZED = 94
# Keyed by what replSetGetStatus says as myState (an int, or anything a recorded reply holds).
_MEMBER_STATES: Mapping[object, str] = {1: "PRIMARY", 2: "SECONDARY", 7: "ARBITER"}


@dataclass(frozen=True)
class Topology:
    kind: str  # replica_set | sharded | standalone
    transactions: bool = False
    set_name: str | None = None
    writable_primary: bool = False
    max_wire_version: int = 0
    hosts: tuple[str, ...] = ()
    last_write_ts: Any = None  # Timestamp of the last write (replica sets): where a PITR before the run would stop
    server_version: str | None = None  # from buildInfo, when it was asked
    member_state: str | None = None  # PRIMARY, SECONDARY, ... from replSetGetStatus, when it was asked
    oplog_readable: bool = False  # local.oplog.rs exists and this user may read it (when it was probed)
    oplog_first: Any = None  # Timestamp of the oldest oplog entry (when the oplog's bounds were read)
    oplog_last: Any = None
    change_streams: bool = False
    cluster_time: Any = None  # $clusterTime of the hello reply
    notes: tuple[str, ...] = ()

    @property
    def capture_mode(self) -> str | None:
        """How changes can be followed: "oplog", "change_stream", or None (standalone)."""
        if self.oplog_readable:
            return "oplog"
        if self.change_streams:
            return "change_stream"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "transactions": self.transactions, "set_name": self.set_name,
                "writable_primary": self.writable_primary, "max_wire_version": self.max_wire_version,
                "hosts": list(self.hosts), "server_version": self.server_version,
                "member_state": self.member_state, "oplog_readable": self.oplog_readable,
                "oplog_first": ts_to_dict(self.oplog_first), "oplog_last": ts_to_dict(self.oplog_last),
                "change_streams": self.change_streams, "capture_mode": self.capture_mode, "notes": list(self.notes)}


def _error_code(reply: dict[str, Any] | None) -> int | None:
    if not reply or reply.get("ok", 1) == 1:
        return None
    return int(reply.get("code", -1))


class _HelloFields(TypedDict):
    """The Topology fields every kind of deployment takes from hello (and buildInfo)."""

    writable_primary: bool
    max_wire_version: int
    server_version: str | None
    cluster_time: Any  # a bson Timestamp


def classify(hello: dict[str, Any], *, build_info: dict[str, Any] | None = None,
             repl_status: dict[str, Any] | None = None, oplog_probe: dict[str, Any] | None = None) -> Topology:
    """The Topology the server's replies describe; every reply but hello is optional (None: not asked).

    hello: the hello (or legacy isMaster) reply. build_info: buildInfo's reply. repl_status: replSetGetStatus's
    reply, or its error reply ({"ok": 0, "code": ...}). oplog_probe: {"present": bool} from listing the local
    database, or {"first": <oldest entry or None>, "last": <newest or None>} when local.oplog.rs was read, or
    {"ok": 0, "code": ...} when that failed.
    """
    common = _HelloFields(writable_primary=bool(hello.get("isWritablePrimary", hello.get("ismaster", False))),
                          max_wire_version=int(hello.get("maxWireVersion") or 0),
                          server_version=(build_info or {}).get("version"),
                          cluster_time=(hello.get("$clusterTime") or {}).get("clusterTime"))
    sessions = hello.get("logicalSessionTimeoutMinutes") is not None
    if hello.get("msg") == "isdbgrid":
        txn = sessions and common["max_wire_version"] >= _SHARDED_TXN_WIRE
        notes = [] if txn else ["mongos older than 4.2 or without sessions: no multi-document transactions"]
        notes.append("mongos: the shards' oplogs are not readable through it; changes come from a change stream")
        return Topology("sharded", txn, change_streams=True, notes=tuple(notes), **common)
    kind, set_name, member_state, notes = _replication(hello, repl_status)
    if kind == "standalone":
        notes.insert(0, "standalone server: no transactions; batches are made idempotent with a per-document marker")
        return Topology("standalone", False, notes=tuple(notes), **common)
    txn = sessions and common["max_wire_version"] >= _REPLICA_SET_TXN_WIRE
    if not txn:
        notes.append("replica set member older than 4.0 or without sessions: no multi-document transactions")
    if not common["writable_primary"]:
        notes.append("connected to a member that is not the primary: migrations must run against the primary")
    oplog = _oplog(oplog_probe, notes)
    last_write = ((hello.get("lastWrite") or {}).get("opTime") or {}).get("ts")
    return Topology("replica_set", txn, set_name=set_name, hosts=tuple(hello.get("hosts") or ()),
                    last_write_ts=last_write, member_state=member_state, change_streams=True, notes=tuple(notes),
                    **oplog, **common)


ReplicationState = tuple[str, "str | None", "str | None", list[str]]


def _replication(hello: dict[str, Any], repl_status: dict[str, Any] | None) -> ReplicationState:
    """(kind, set name, member state, notes): hello's answer, corrected by replSetGetStatus when it was asked."""
    set_name = hello.get("setName")
    kind = "replica_set" if set_name else "standalone"
    notes: list[str] = []
    code = _error_code(repl_status)
    if repl_status is None:
        return kind, set_name, None, notes
    if code is None:
        state = repl_status.get("myState")
        return "replica_set", set_name or repl_status.get("set"), _MEMBER_STATES.get(state, f"STATE_{state}"), notes
    if code == NO_REPLICATION_ENABLED:
        if kind == "replica_set":
            notes.append("hello names a replica set but replSetGetStatus says replication is off")
        return "standalone", None, None, notes
    if code == UNAUTHORIZED:
        notes.append("replSetGetStatus not authorized for this user; topology taken from hello")
    return kind, set_name, None, notes


class _OplogFields(TypedDict, total=False):
    """The Topology fields the oplog probe gives, when it was probed and the oplog could be read."""

    oplog_readable: bool
    oplog_first: Any  # bson Timestamps
    oplog_last: Any


def _oplog(probe: dict[str, Any] | None, notes: list[str]) -> _OplogFields:
    """Topology fields from the oplog probe (none when it was not probed); what is missing is noted."""
    if probe is None:
        return {}
    code = _error_code(probe)
    first = probe.get("first") if code is None else None
    last = probe.get("last") if code is None else None
    if first is not None and last is not None:
        return {"oplog_readable": True, "oplog_first": first.get("ts"), "oplog_last": last.get("ts")}
    if code is None and probe.get("present"):
        return {"oplog_readable": True}
    if code == UNAUTHORIZED:
        notes.append("local.oplog.rs is not readable by this user; changes come from a change stream")
    else:
        notes.append("local.oplog.rs is empty or missing; changes come from a change stream")
    return {}


def parse_hello(reply: dict[str, Any]) -> Topology:
    """The topology a hello (or legacy isMaster) reply alone describes."""
    return classify(reply)


@dataclass(frozen=True)
class MemberState:
    name: str
    state: str  # PRIMARY, SECONDARY, ARBITER, RECOVERING, ...
    healthy: bool
    lag_s: float | None  # behind the primary's optime, seconds; None for the primary or when unknown


@dataclass(frozen=True)
class ReplicaSetStatus:
    set_name: str | None
    members: tuple[MemberState, ...] = ()
    primary: str | None = None
    available: bool = True  # False: the server is not a replica-set member (replSetGetStatus refused)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_lag_s(self) -> float:
        lags = [m.lag_s for m in self.members if m.lag_s is not None]
        return max(lags) if lags else 0.0

    @property
    def data_bearing_healthy(self) -> int:
        return sum(1 for m in self.members if m.healthy and m.state in ("PRIMARY", "SECONDARY"))


def _optime_seconds(member: dict[str, Any]) -> float | None:
    optime = member.get("optime")
    ts = optime.get("ts") if isinstance(optime, dict) else optime
    if ts is None:
        return None
    seconds = getattr(ts, "time", None)
    if seconds is None and isinstance(ts, dict):  # extended JSON as recorded: {"$timestamp": {"t": .., "i": ..}}
        seconds = (ts.get("$timestamp") or {}).get("t")
    return float(seconds) if seconds is not None else None


def parse_repl_status(reply: dict[str, Any]) -> ReplicaSetStatus:
    """replSetGetStatus's reply (or its error reply) as member states with their replication lag."""
    if reply.get("ok", 1) != 1:
        code = reply.get("code")
        note = ("not a replica set member (NoReplicationEnabled)" if code == NO_REPLICATION_ENABLED else
                "replica set not initialized yet" if code == NOT_YET_INITIALIZED else
                f"replSetGetStatus failed: {reply.get('errmsg', 'error')} (code {code})")
        return ReplicaSetStatus(None, available=False, notes=(note,))
    raw = reply.get("members") or []
    primary = next((m for m in raw if m.get("stateStr") == "PRIMARY"), None)
    primary_s = _optime_seconds(primary) if primary else None
    members = []
    notes = []
    for m in raw:
        state = str(m.get("stateStr", "UNKNOWN"))
        healthy = bool(m.get("health", 1))
        lag = None
        if m is not primary and state == "SECONDARY" and primary_s is not None:
            own = _optime_seconds(m)
            lag = max(0.0, primary_s - own) if own is not None else None
        if not healthy:
            notes.append(f"member {m.get('name')} is unreachable ({state})")
        members.append(MemberState(str(m.get("name")), state, healthy, lag))
    if primary is None:
        notes.append("no primary: writes are not possible until an election completes")
    return ReplicaSetStatus(reply.get("set"), tuple(members), primary.get("name") if primary else None,
                            notes=tuple(notes))


@dataclass(frozen=True)
class OplogWindow:
    first_ts: Any
    last_ts: Any

    @property
    def seconds(self) -> float | None:
        first = getattr(self.first_ts, "time", None)
        last = getattr(self.last_ts, "time", None)
        if first is None or last is None:
            return None
        return float(last - first)


def parse_oplog_window(first: dict[str, Any] | None, last: dict[str, Any] | None) -> OplogWindow | None:
    """The time span the oplog covers, from its oldest and newest entries (None when it is empty/unreadable)."""
    if not first or not last:
        return None
    return OplogWindow(first.get("ts"), last.get("ts"))


def write_concern_for(status: ReplicaSetStatus) -> dict[str, Any]:
    """The write concern of the ledger: majority where a majority of data-bearing members exists, else w:1."""
    if status.available and status.data_bearing_healthy > 1:
        return {"w": "majority"}
    return {"w": 1}


# ---- talking to a live server (thin: everything interesting is in the parsers above) --------------------------

def reply_or_error(call) -> dict[str, Any]:
    """A command's reply, or its error as a reply ({"ok": 0, "code": ...}) for the parsers above."""
    try:
        return dict(call())
    except pymongo_errors.OperationFailure as exc:
        return {"ok": 0, "code": exc.code, "errmsg": str(exc.details.get("errmsg", exc)) if exc.details else str(exc)}


def oplog_edge(client: Any, *, oldest: bool) -> dict[str, Any] | None:
    """The oldest (or newest) oplog entry's ts and wall, read by natural order (a ts filter scans the whole oplog)."""
    return client.local["oplog.rs"].find_one({}, {"ts": 1, "wall": 1}, sort=[("$natural", 1 if oldest else -1)])


def oplog_bounds(client: Any) -> dict[str, Any]:
    """The oldest and newest oplog entries (their ts and wall), or an error reply."""
    return reply_or_error(lambda: {"ok": 1, "first": oplog_edge(client, oldest=True),
                                   "last": oplog_edge(client, oldest=False)})


def oplog_present(client: Any) -> dict[str, Any]:
    """Whether local.oplog.rs exists and local may be listed: a cheap probe (on SecantusDB every query of the oplog
    reads all of it, seconds at 100,000 entries)."""
    return reply_or_error(lambda: {"ok": 1, "present": "oplog.rs" in client.local.list_collection_names()})


def detect(client: Any, *, full: bool = False, with_oplog_bounds: bool = False) -> Topology:
    """The deployment behind client. Only hello unless full: then also buildInfo, replSetGetStatus and an oplog
    probe (with_oplog_bounds: read the oplog's oldest and newest entries, two full oplog reads on SecantusDB)."""
    require_driver()
    hello = client.admin.command("hello")
    if not full:
        return classify(hello)
    build_info = reply_or_error(lambda: client.admin.command("buildInfo"))
    repl_reply = None
    if hello.get("msg") != "isdbgrid":
        repl_reply = reply_or_error(lambda: client.admin.command("replSetGetStatus"))
    probe = None
    if hello.get("setName") or (repl_reply and repl_reply.get("ok") == 1):
        probe = oplog_bounds(client) if with_oplog_bounds else oplog_present(client)
    return classify(hello, build_info=build_info, repl_status=repl_reply, oplog_probe=probe)


def repl_status(client: Any) -> ReplicaSetStatus:
    return parse_repl_status(reply_or_error(lambda: client.admin.command("replSetGetStatus")))


def oplog_window(client: Any) -> OplogWindow | None:
    """First and last oplog entries (None when they cannot be read)."""
    bounds = oplog_bounds(client)
    if _error_code(bounds) is not None:
        return None
    return parse_oplog_window(bounds.get("first"), bounds.get("last"))


# Below this, a long migration may outrun the oplog: a secondary that falls further behind needs a full resync.
SHORT_OPLOG_WINDOW_S = 3600.0
LAGGING_SECONDARY_S = 10.0


def preflight_notes(client: Any) -> list[str]:
    """What an operator should know before a migration writes to this deployment (replica sets only)."""
    topo = detect(client)
    if topo.kind != "replica_set":
        return [f"MongoDB is a {topo.kind} deployment: " + "; ".join(topo.notes)] if topo.notes else []
    notes = list(topo.notes)
    status = repl_status(client)
    notes += list(status.notes)
    for member in status.members:
        if member.lag_s is not None and member.lag_s > LAGGING_SECONDARY_S:
            notes.append(f"secondary {member.name} is {member.lag_s:.0f}s behind the primary; the migration's "
                         "writes add to that")
    # Only a set with secondaries can fall behind; and reading the oplog's ends is not free on every server.
    window = oplog_window(client) if status.available and len(status.members) > 1 else None
    if window is not None and window.seconds is not None and window.seconds < SHORT_OPLOG_WINDOW_S:
        notes.append(f"the oplog covers only {window.seconds:.0f}s: a large migration can push a lagging "
                     "secondary out of it (it would need a full resync)")
    return [f"MongoDB replica set {topo.set_name}: {note}" for note in notes]

"""What the MongoDB deployment offers a migration: transactions, an oplog, a replica set's health.

Nothing is assumed from the URI: the answers come from the server's replies (hello, replSetGetStatus, the oplog's
first and last entries). The parse_* functions are pure, so the replica-set paths are unit-tested on recorded
replies (tests/unit/mongodb/fixtures/) even where the tests only have a single-node server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Multi-document transactions: replica sets since 4.0 (wire version 7), sharded clusters since 4.2 (wire 8).
_REPLICA_SET_TXN_WIRE = 7
_SHARDED_TXN_WIRE = 8
NO_REPLICATION_ENABLED = 76
NOT_YET_INITIALIZED = 94


@dataclass(frozen=True)
class Topology:
    kind: str  # replica_set | sharded | standalone
    transactions: bool
    set_name: str | None = None
    writable_primary: bool = False
    max_wire_version: int = 0
    hosts: tuple[str, ...] = ()
    last_write_ts: Any = None  # Timestamp of the last write (replica sets): where a PITR before the run would stop
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "transactions": self.transactions, "set_name": self.set_name,
                "writable_primary": self.writable_primary, "max_wire_version": self.max_wire_version,
                "hosts": list(self.hosts), "notes": list(self.notes)}


def parse_hello(reply: dict[str, Any]) -> Topology:
    """The topology a hello (or legacy isMaster) reply describes."""
    wire = int(reply.get("maxWireVersion") or 0)
    sessions = reply.get("logicalSessionTimeoutMinutes") is not None
    writable = bool(reply.get("isWritablePrimary", reply.get("ismaster", False)))
    notes: list[str] = []
    if reply.get("msg") == "isdbgrid":
        txn = sessions and wire >= _SHARDED_TXN_WIRE
        if not txn:
            notes.append("mongos older than 4.2 or without sessions: no multi-document transactions")
        return Topology("sharded", txn, writable_primary=writable, max_wire_version=wire, notes=tuple(notes))
    set_name = reply.get("setName")
    if set_name:
        txn = sessions and wire >= _REPLICA_SET_TXN_WIRE
        if not txn:
            notes.append("replica set member older than 4.0 or without sessions: no multi-document transactions")
        if not writable:
            notes.append("connected to a member that is not the primary: migrations must run against the primary")
        last_write = ((reply.get("lastWrite") or {}).get("opTime") or {}).get("ts")
        return Topology("replica_set", txn, set_name=set_name, writable_primary=writable, max_wire_version=wire,
                        hosts=tuple(reply.get("hosts") or ()), last_write_ts=last_write, notes=tuple(notes))
    notes.append("standalone server: no transactions; batches are made idempotent with a per-document marker")
    return Topology("standalone", False, writable_primary=writable, max_wire_version=wire, notes=tuple(notes))


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

def detect(client: Any) -> Topology:
    return parse_hello(client.admin.command("hello"))


def repl_status(client: Any) -> ReplicaSetStatus:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors

    try:
        return parse_repl_status(client.admin.command("replSetGetStatus"))
    except pymongo_errors.OperationFailure as exc:
        return parse_repl_status({"ok": 0, "code": exc.code, "errmsg": str(exc.details.get("errmsg", exc))
                                  if exc.details else str(exc)})


def oplog_window(client: Any) -> OplogWindow | None:
    """First and last oplog entries, read by natural order (never a ts filter: that scans the whole oplog)."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors

    try:
        oplog = client.local["oplog.rs"]
        first = oplog.find_one({}, {"ts": 1}, sort=[("$natural", 1)])
        last = oplog.find_one({}, {"ts": 1}, sort=[("$natural", -1)])
    except pymongo_errors.OperationFailure:
        return None
    return parse_oplog_window(first, last)


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

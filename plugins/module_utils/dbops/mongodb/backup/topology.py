"""Which backup paths a MongoDB deployment allows, decided from the one Topology (mongodb/topology.py).

The deployment itself (kind, oplog, change streams) is detected there; here are the backup's own questions: the
full detection a backup needs, and whether snapshot reads at a chosen cluster time are really honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson, require_driver
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.topology import (
    Topology,
    classify,
    detect,
    reply_or_error,
)

SNAPSHOT_TOO_OLD = 239

# The name backups and their tests know the one classification by.
classify_topology = classify


def detect_topology(client, *, with_oplog_bounds: bool = False) -> Topology:
    """Everything a backup needs to know (buildInfo, replSetGetStatus, the oplog); with_oplog_bounds: also read the
    oldest and newest oplog entries (two full oplog reads on SecantusDB)."""
    return detect(client, full=True, with_oplog_bounds=with_oplog_bounds)


@dataclass(frozen=True)
class SnapshotSupport:
    supported: bool
    reason: str


def interpret_snapshot_probe(requested, reply: dict[str, Any]) -> SnapshotSupport:
    """Whether a find with readConcern {level: snapshot, atClusterTime: requested} was really served at that time.

    requested is deliberately older than the newest write: a server that ignores atClusterTime answers with its
    latest time (SecantusDB does), one that honours it echoes requested back in cursor.atClusterTime.
    """
    if reply.get("ok", 1) != 1:
        return SnapshotSupport(False, f"snapshot read refused (code {reply.get('code')}: {reply.get('errmsg', '')})")
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
    if newest is None or (newest.time <= 1 and newest.inc <= 1):
        return SnapshotSupport(False, "no write history to probe snapshot reads against")
    earlier = (bson.Timestamp(newest.time, newest.inc - 1) if newest.inc > 1
               else bson.Timestamp(newest.time - 1, 2**31))
    reply = reply_or_error(lambda: client[database].command({
        "find": collection, "batchSize": 0, "readConcern": {"level": "snapshot", "atClusterTime": earlier},
    }))
    return interpret_snapshot_probe(earlier, reply)

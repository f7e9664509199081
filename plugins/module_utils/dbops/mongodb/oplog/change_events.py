"""Change stream events turned into oplog entries (mongod's format), so one replay path serves both capture modes."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.update_diff import (
    diff_from_update_description,
)


def event_to_oplog(event: dict[str, Any]) -> dict[str, Any] | None:
    """The oplog entry equivalent to a change event, or None for events that change no data (invalidate, ...)."""
    kind = event.get("operationType")
    ns = event.get("ns") or {}
    db_name, coll = ns.get("db"), ns.get("coll")
    base: dict[str, Any] = {"ts": event.get("clusterTime"), "wall": event.get("wallTime")}
    described = event.get("operationDescription") or {}
    if kind == "insert":
        return {"op": "i", "ns": f"{db_name}.{coll}", "o": event["fullDocument"], "o2": event["documentKey"], **base}
    if kind == "replace":
        return {"op": "u", "ns": f"{db_name}.{coll}", "o": event["fullDocument"], "o2": event["documentKey"], **base}
    if kind == "update":
        diff = diff_from_update_description(event.get("updateDescription") or {})
        return {"op": "u", "ns": f"{db_name}.{coll}", "o": {"$v": 2, "diff": diff},
                "o2": {"_id": event["documentKey"]["_id"]}, **base}
    if kind == "delete":
        return {"op": "d", "ns": f"{db_name}.{coll}", "o": {"_id": event["documentKey"]["_id"]}, **base}
    command: dict[str, Any] | None = None
    if kind == "drop":
        command = {"drop": coll}
    elif kind == "dropDatabase":
        command = {"dropDatabase": 1}
    elif kind == "rename":
        to = event.get("to") or described.get("to") or {}
        command = {"renameCollection": f"{db_name}.{coll}", "to": f"{to.get('db')}.{to.get('coll')}",
                   "dropTarget": bool(described.get("dropTarget"))}
    elif kind == "create":
        command = {"create": coll, **{k: v for k, v in described.items() if k != "idIndex"}}
    elif kind == "createIndexes":
        command = {"createIndexes": coll, "indexes": list(described.get("indexes") or [])}
    elif kind == "dropIndexes":
        command = {"dropIndexes": coll, "index": [spec["name"] for spec in described.get("indexes") or []]}
    elif kind == "modify":
        command = {"collMod": coll, **described}
    if command is None:
        return None
    return {"op": "c", "ns": f"{db_name}.$cmd", "o": command, **base}

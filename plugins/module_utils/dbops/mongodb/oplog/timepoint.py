"""Points in MongoDB time: cluster Timestamps, their catalog/key spelling, and restore targets.

A cluster time is (seconds, increment). In JSON it is {"t": seconds, "i": increment}; in repository keys and catalog
positions it is "<seconds:010d>.<increment:010d>", whose string order is its order in time (the catalog's rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, parse_iso, to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson, require_driver

_POSITION = re.compile(r"^(\d{1,10})[.:](\d{1,10})$")


def position(ts) -> str:
    """Sortable spelling of a Timestamp, fixed width: Timestamp(1795607061, 14) -> "1795607061.0000000014"."""
    return f"{ts.time:010d}.{ts.inc:010d}"


def parse_position(text: str):
    require_driver()
    match = _POSITION.match(text.strip())
    if not match:
        raise DbopsError(
            f"invalid MongoDB cluster time {text!r}: expected <seconds>.<increment> or <seconds>:<increment>")
    return bson.Timestamp(int(match.group(1)), int(match.group(2)))


def ts_to_dict(ts) -> dict[str, int] | None:
    return None if ts is None else {"t": int(ts.time), "i": int(ts.inc)}


def ts_from_dict(data: dict[str, Any] | None):
    if data is None:
        return None
    require_driver()
    return bson.Timestamp(int(data["t"]), int(data["i"]))


def ts_text(ts) -> str:
    """Human spelling used in messages: Timestamp(seconds, increment) plus the UTC second it falls in."""
    if ts is None:
        return "none"
    moment = datetime.fromtimestamp(ts.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"Timestamp({ts.time}, {ts.inc}) [{moment}]"


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """Times in MongoDB records and results, to the millisecond (a BSON date's precision)."""
    return to_iso(moment, timespec="milliseconds")


def aware(moment: datetime) -> datetime:
    """Datetimes from the server are UTC; naive ones (pymongo without tz_aware) are made explicit."""
    return as_utc(moment)


@dataclass(frozen=True)
class RestoreTarget:
    """Where a restore stops: every change at or before this point is applied, none after it.

    Exactly one of cluster_time (a Timestamp: changes with ts <= it) or wall_time (an aware datetime: changes whose
    oplog wall clock is <= it) is set.
    """

    cluster_time: Any = None
    wall_time: datetime | None = None

    def describe(self) -> str:
        if self.cluster_time is not None:
            return f"cluster time {ts_text(self.cluster_time)}"
        return f"time {iso(self.wall_time)}"

    def to_dict(self) -> dict[str, Any]:
        return {"cluster_time": ts_to_dict(self.cluster_time), "wall_time": iso(self.wall_time)}


def parse_target(value: Any) -> RestoreTarget:
    """A restore target from what a user or a recovery point gives.

    Accepted: a bson Timestamp; "<seconds>.<increment>" or "<seconds>:<increment>"; {"t": s, "i": n};
    a recovery point's mongodb record ({"cluster_time": {"t", "i"}, ...}); {"wall_time": <datetime or ISO text>}
    (also RestoreTarget.to_dict()'s form); a datetime; an ISO 8601 string.
    """
    require_driver()
    if isinstance(value, RestoreTarget):
        return value
    if isinstance(value, bson.Timestamp):
        return RestoreTarget(cluster_time=value)
    if isinstance(value, datetime):
        return RestoreTarget(wall_time=aware(value))
    if isinstance(value, dict):
        if value.get("cluster_time") is not None:
            return parse_target(value["cluster_time"])
        if "t" in value and "i" in value:
            return RestoreTarget(cluster_time=ts_from_dict(value))
        if value.get("wall_time") is not None:
            return parse_target(value["wall_time"] if not isinstance(value["wall_time"], str)
                                else parse_iso(value["wall_time"]))
        raise DbopsError(f"invalid MongoDB restore target {value!r}: expected a cluster time or a time")
    if isinstance(value, str):
        if _POSITION.match(value.strip()):
            return RestoreTarget(cluster_time=parse_position(value))
        return RestoreTarget(wall_time=parse_iso(value))
    raise DbopsError(f"invalid MongoDB restore target {value!r}: expected a cluster time or a time")

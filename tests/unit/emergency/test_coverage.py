"""The recovery point before the incident, its inventory (unknown for old points) and what is missing now."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.coverage import (
    missing_now,
    newest_point_before,
    point_inventory,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import RecoveryPointRecord


def point(name: str, created: str, tables=None, collections=None) -> RecoveryPointRecord:
    pg = {"lsn": "0/1"} if tables is None else {"lsn": "0/1", "inventory": {"tables": tables}}
    mongo = {"cluster_time": {"t": 1, "i": 1}}
    if collections is not None:
        mongo["inventory"] = {"collections": collections}
    return RecoveryPointRecord(name=name, created_at=created, postgres=pg, mongodb=mongo)


def test_the_newest_point_at_or_before_the_incident():
    points = [point("a", "2026-12-01T10:00:00.000000Z"), point("b", "2026-12-01T11:00:00.000000Z"),
              point("c", "2026-12-01T12:00:00.000000Z")]
    assert newest_point_before(points, "2026-12-01T11:30:00.000000Z").name == "b"
    assert newest_point_before(points, None).name == "c"
    assert newest_point_before(points, "2026-12-01T09:00:00.000000Z") is None


def test_an_old_point_without_an_inventory_gives_unknown():
    assert point_inventory(point("old", "2026-01-01T00:00:00.000000Z")) == {"tables": None, "collections": None}
    new = point("new", "2026-01-01T00:00:00.000000Z", tables=["public.t"], collections=["c"])
    assert point_inventory(new) == {"tables": ["public.t"], "collections": ["c"]}


def test_missing_now():
    assert missing_now(["public.a", "public.b"], ["public.b", "public.c"]) == ["public.a"]
    assert missing_now(None, ["public.a"]) is None
    assert missing_now(["public.a"], None) is None

"""What the repository offers for the present: the newest recovery point and backups, and which tables and
collections in the newest recovery point's inventory are missing now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    Catalog,
    RecoveryPointRecord,
)


@dataclass
class Coverage:
    recovery_point: dict[str, Any] | None = None  # name, created_at, engines, inventory (or None: unknown)
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)  # engine -> newest backup


def newest_point_before(points: list[RecoveryPointRecord], moment: str | None) -> RecoveryPointRecord | None:
    """The newest point created at or before moment (ISO strings of one spelling sort in time order)."""
    eligible = [p for p in points if moment is None or p.created_at <= moment]
    return max(eligible, key=lambda p: p.created_at) if eligible else None


def point_inventory(point: RecoveryPointRecord) -> dict[str, list[str] | None]:
    """The point's inventory per engine; None where the point records none (taken before inventories existed)."""
    tables = (point.postgres or {}).get("inventory", {}).get("tables") if point.postgres else None
    collections = (point.mongodb or {}).get("inventory", {}).get("collections") if point.mongodb else None
    return {"tables": tables, "collections": collections}


def coverage(catalog: Catalog, incident_time: str | None) -> Coverage:
    found = Coverage()
    point = newest_point_before(catalog.recovery_points(), incident_time)
    if point is not None:
        found.recovery_point = {"name": point.name, "created_at": point.created_at,
                                "engines": [e for e in ("postgres", "mongodb") if getattr(point, e)],
                                "inventory": point_inventory(point)}
    for engine in ("postgres", "mongodb"):
        backups = catalog.backups(engine=engine)
        if backups:
            newest = max(backups, key=lambda b: b.finished_at)
            found.backups[engine] = {"backup_id": newest.backup_id, "kind": newest.kind,
                                     "finished_at": newest.finished_at}
    return found


def missing_now(recorded: list[str] | None, present: list[str] | None) -> list[str] | None:
    """What the inventory recorded that is gone; None when either side is unknown."""
    if recorded is None or present is None:
        return None
    now = set(present)
    return [name for name in recorded if name not in now]

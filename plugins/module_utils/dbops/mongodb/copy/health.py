"""Is a copy alive and whole? Read from its state document on the target, so any host can tell.

A live copy process writes ``heartbeat_at`` about every second; ``running`` means it reports itself running and
its heartbeat is fresh. ``gap`` is the message a copy records when its resume point has left the source's oplog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.state_writer import RUNNING
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    position_of,
    position_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import (
    STATE_COLLECTION,
    STATE_DATABASE,
    CopyState,
    read_state,
)

STALE_AFTER_SECONDS = 15.0


@dataclass(frozen=True)
class CopyHealth:
    running: bool
    status: str | None
    applied: Any  # bson.Timestamp or None
    applied_text: str | None
    gap: str | None
    heartbeat_age_seconds: float | None
    direction: str | None

    @property
    def healthy(self) -> bool:
        return self.running and self.gap is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("applied")
        data["healthy"] = self.healthy
        return data


def health_of(state: CopyState | None, *, stale_after: float = STALE_AFTER_SECONDS) -> CopyHealth:
    if state is None:
        return CopyHealth(running=False, status=None, applied=None, applied_text=None, gap=None,
                          heartbeat_age_seconds=None, direction=None)
    age = (utc_now() - state.heartbeat_at).total_seconds() if state.heartbeat_at is not None else None
    running = state.status == RUNNING and age is not None and age <= stale_after and not state.gap
    return CopyHealth(running=running, status=state.status, applied=state.applied,
                      applied_text=position_text(position_of(state.applied)) if state.applied is not None else None,
                      gap=state.gap, heartbeat_age_seconds=round(age, 3) if age is not None else None,
                      direction=state.direction)


def copy_health(target_client: Any, database: str, *, stale_after: float = STALE_AFTER_SECONDS,
                queries: list[str] | None = None) -> CopyHealth:
    if queries is not None:
        queries.append(f"{STATE_DATABASE}.{STATE_COLLECTION}.findOne({{_id: {database!r}}})")
    return health_of(read_state(target_client, database), stale_after=stale_after)

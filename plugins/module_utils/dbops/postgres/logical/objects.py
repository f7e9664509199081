"""The replication objects of one direction: publication, subscription and slot share the direction's name
(cutover/names.py), so the switch and the teardown find what prepare made without being told."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SIDES, replication_name

DIRECTIONS = ("blue_to_green", "green_to_blue")


@dataclass(frozen=True)
class ReplicationObjects:
    direction: str
    source_side: str
    target_side: str
    name: str

    @property
    def publication(self) -> str:
        return self.name

    @property
    def subscription(self) -> str:
        return self.name

    @property
    def slot(self) -> str:
        return self.name


def replication_objects(direction: str) -> ReplicationObjects:
    if direction not in DIRECTIONS:
        raise DbopsError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    source, target = direction.split("_to_")
    if source not in SIDES or target not in SIDES:  # cannot happen for DIRECTIONS: a guard for their spelling
        raise DbopsError(f"direction {direction!r} does not name two sides")
    return ReplicationObjects(direction, source, target, replication_name(source, target))

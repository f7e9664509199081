"""THE names of the cutover: the two sides, the directions, and the replication objects of each direction.

A direction is named after where the data flows: ``blue_to_green`` (forward, before the switch) or
``green_to_blue`` (reverse, after it). The publication, the subscription and the slot of a direction share its
name, ``dbops_cutover_<from>_to_<to>``, so every part of the collection finds them without being told.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

SIDES = ("blue", "green")
DIRECTIONS = {"to_green": "green", "to_blue": "blue"}
FENCE_TABLE = ("dbops", "cutover_fence")
FENCE_COLLECTION = "dbops_cutover_fence"


def other_side(side: str) -> str:
    if side not in SIDES:
        raise DbopsError(f"a side is blue or green, not {side!r}")
    return SIDES[1 - SIDES.index(side)]


def replication_name(source: str, target: str) -> str:
    """The publication, subscription and slot name of the flow source -> target."""
    return f"dbops_cutover_{source}_to_{target}"


@dataclass(frozen=True)
class SwitchSides:
    """Which side a switch leaves (old) and which it makes active (new)."""

    old: str
    new: str

    @classmethod
    def for_direction(cls, direction: str) -> SwitchSides:
        if direction not in DIRECTIONS:
            raise DbopsError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        new = DIRECTIONS[direction]
        return cls(old=other_side(new), new=new)

    @property
    def forward(self) -> str:
        """The replication that feeds the new side until the switch (its subscription lives on the new side)."""
        return replication_name(self.old, self.new)

    @property
    def reverse(self) -> str:
        """The replication the switch starts: from the new side back to the old one."""
        return replication_name(self.new, self.old)

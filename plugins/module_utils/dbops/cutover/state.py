"""THE durable state of a cutover: one record per cutover name, kept on BOTH sides (see state_store.py).

The record says which side the application writes to (``active``), what the cutover is doing (``phase``), the step
it is at and whether that step is only intended or done, the positions taken during the switch, exactly what each
fence revoked (so that any process can undo it), and the timings. Every write raises ``generation``: of the copies
read back after a crash, the one with the highest generation is the truth (a side that was unreachable for the
last writes simply holds an older copy).

Phases: ``preparing`` / ``prepared`` (the playbook's prepare), ``switching`` (to green) and ``falling_back`` (to
blue) while a switch runs, ``undoing`` while one is undone, ``switched`` / ``fallen_back`` when it ended,
``undone`` when it was undone (the old side is active again), ``aborted`` (green torn down before a switch).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

PREPARING = "preparing"
PREPARED = "prepared"
SWITCHING = "switching"
FALLING_BACK = "falling_back"
UNDOING = "undoing"
SWITCHED = "switched"
FALLEN_BACK = "fallen_back"
UNDONE = "undone"
ABORTED = "aborted"
PHASES = (PREPARING, PREPARED, SWITCHING, FALLING_BACK, UNDOING, SWITCHED, FALLEN_BACK, UNDONE, ABORTED)
IN_PROGRESS = (SWITCHING, FALLING_BACK, UNDOING)
# The phases a playbook may record with cutover_state action=record.
RECORDABLE = (PREPARING, PREPARED, ABORTED)
INTENT = "intent"
DONE = "done"


class CutoverStateError(DbopsError):
    """The cutover's state forbids the action, or no copy of it could be read or written."""


@dataclass
class CutoverState:
    name: str
    generation: int = 0
    active: str = "blue"
    phase: str = PREPARING
    direction: str | None = None  # to_green | to_blue, of the switch running or last run
    step: str | None = None
    step_status: str | None = None  # intent | done
    steps_done: list[str] = field(default_factory=list)
    positions: dict[str, Any] = field(default_factory=dict)
    # side -> {"postgres": PgReadOnlyChange dict, "mongodb": MongoReadOnlyChange dict}: what its fence revoked.
    fences: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What this switch created and must drop when undone (reverse publication/slot), by name.
    created: dict[str, bool] = field(default_factory=dict)
    timings: list[dict[str, Any]] = field(default_factory=list)
    undone: bool = False
    slow_step: str | None = None
    error: str | None = None
    # Which run (host:pid:start) wrote the record while a switch is in progress: a rerun names it when it refuses.
    owner: str | None = None
    # What a rerun after a crash did with the half-done switch it found: "completed" or "undone".
    recovered: str | None = None
    # The forward PostgreSQL flow the last switch left disabled, dropped after RESUME (or by the next run).
    cleanup_flow: str | None = None
    updated_at: str | None = None

    @property
    def in_progress(self) -> bool:
        return self.phase in IN_PROGRESS

    def fenced(self, side: str) -> bool:
        return any(self.fences.get(side, {}).values())

    def begin_step(self, step: str) -> None:
        """The step is intended: recorded before it runs."""
        self.step, self.step_status = step, INTENT

    def finish_step(self, step: str) -> None:
        self.step, self.step_status = step, DONE
        if step not in self.steps_done:
            self.steps_done.append(step)

    def reached(self, step: str) -> bool:
        """The step was at least intended in this switch (done, or the one it stopped at)."""
        return step in self.steps_done or self.step == step

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CutoverState:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        state = cls(**copy.deepcopy(known))
        if state.phase not in PHASES:
            raise CutoverStateError(f"cutover {state.name!r} has an unknown phase {state.phase!r}")
        return state


def newest(copies: list[CutoverState]) -> CutoverState | None:
    """The copy with the highest generation (the last one written), None when there is none."""
    return max(copies, key=lambda state: state.generation, default=None)


def writable_side(state: CutoverState | None) -> str | None:
    """Which side the application may write to: the active one, unless a switch is half-way (then none is sure
    until it is finished or undone) or the active side is itself fenced."""
    if state is None:
        return "blue"
    if state.in_progress:
        return None
    return None if state.fenced(state.active) else state.active

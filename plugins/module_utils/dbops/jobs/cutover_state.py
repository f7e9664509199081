"""The cutover_state module's engine: read the cutover's state from every copy (action=status), or record a phase
of the playbook's prepare/abort on both sides (action=record).

status reads what it can reach and names what it cannot; it never repairs a half-done switch (that needs the
traffic switches: cutover_switch does it on its next run) but reports it (`in_progress`, `step`). record refuses
while a switch is in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints, open_sides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import (
    RECORDABLE,
    CutoverState,
    CutoverStateError,
    writable_side,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import store_for
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport

ACTIONS = ("status", "record")


@dataclass(frozen=True)
class CutoverStateRequest:
    sides: SideEndpoints
    name: str = "default"
    action: str = "status"
    phase: str | None = None
    check_mode: bool = False


@dataclass
class CutoverStateResult(JobReport):
    changed: bool
    state: dict[str, Any] | None = None
    active: str | None = None
    phase: str | None = None
    step: str | None = None
    step_status: str | None = None
    in_progress: bool = False
    writable_side: str | None = None
    copies: list[dict[str, Any]] = field(default_factory=list)


def validate(request: CutoverStateRequest) -> None:
    if request.action not in ACTIONS:
        raise DbopsError(f"action must be one of {', '.join(ACTIONS)}, not {request.action!r}")
    if request.action == "record" and request.phase not in RECORDABLE:
        raise DbopsError(f"action=record needs phase: one of {', '.join(RECORDABLE)} (the switch records its own "
                         "phases)")
    if not request.name:
        raise DbopsError("name must not be empty")


def run_cutover_state(request: CutoverStateRequest) -> CutoverStateResult:
    validate(request)
    result = CutoverStateResult(changed=False)
    recording = request.action == "record"
    with open_sides(request.sides, require=recording) as sides:
        store = store_for(sides, request.name, result.queries, create=recording and not request.check_mode)
        reading = store.read()
        state = reading.state
        if recording:
            state = _record(request, store, state, result)
        result.copies = [{"label": label, "generation": generation}
                         for label, generation in reading.generations.items()]
        result.copies += [{"label": label, "error": why} for label, why in reading.unreachable.items()]
        if recording and not request.check_mode:
            result.copies = [{"label": copy.label, "generation": state.generation if state else None}
                             for copy in store.copies if copy.label not in store.missed]
            result.copies += [{"label": label, "error": why} for label, why in store.missed.items()]
    _describe(state, result)
    return result


def _record(request: CutoverStateRequest, store: Any, state: CutoverState | None,
            result: CutoverStateResult) -> CutoverState | None:
    if state is not None and state.in_progress:
        raise CutoverStateError(f"cutover {request.name!r} is {state.phase} (at step {state.step}, "
                                f"{state.step_status}): run the switch again to complete or undo it first")
    if state is not None and state.phase == request.phase:
        return state
    result.changed = True
    if request.check_mode:
        result.queries.append(f"record phase {request.phase} of cutover {request.name!r} on every side")
        return state
    state = state or CutoverState(name=request.name)
    state.phase = request.phase or state.phase
    store.write(state)
    return state


def _describe(state: CutoverState | None, result: CutoverStateResult) -> None:
    result.state = state.to_dict() if state is not None else None
    result.writable_side = writable_side(state)
    if state is None:
        return
    result.active, result.phase = state.active, state.phase
    result.step, result.step_status, result.in_progress = state.step, state.step_status, state.in_progress

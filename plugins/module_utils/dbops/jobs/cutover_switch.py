"""The cutover_switch module's engine: the fenced switch (action=switch, direction to_green|to_blue) and the fence
of the passive side (action=fence_passive, run by prepare so the new side never takes the application's writes
before the switch).

Before anything else a run takes the cutover's lock (a session advisory lock on each PostgreSQL side: a crashed
run's lock goes with its sessions) and reads the state from every copy; a switch left half-done by a crashed run is
completed or undone first (cutover/recovery.py) and the result says which. Check mode reads the state, the flows
and the lags and returns the planned steps; it changes nothing and waits for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import parse_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import preflight
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.client_probe import CommitProbe
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.fence import (
    FenceRecord,
    apply_fence,
    plan_fence,
    planned_fence_queries,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SwitchSides, other_side
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.plan import planned_switch
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.recovery import planned_recovery, recover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import (
    OpenSides,
    SideEndpoints,
    open_sides,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import CutoverState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import StateStore, store_for
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch import (
    cleanup_pending,
    run_switch,
    start,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import (
    SwitchOptions,
    SwitchRun,
    run_owner,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import MongoReadOnlyChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import PgReadOnlyChange

ACTIONS = ("switch", "fence_passive")
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext(%s))"
# Without PostgreSQL there is no session lock: a record in progress younger than this belongs to a live run.
LEASE_S = 60.0


@dataclass(frozen=True)
class CutoverSwitchRequest:
    sides: SideEndpoints
    options: SwitchOptions = field(default_factory=SwitchOptions)
    action: str = "switch"
    approved: bool = False
    check_mode: bool = False


@dataclass
class CutoverSwitchResult(JobReport):
    changed: bool
    action: str
    direction: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    pause_ms: float | None = None
    mongodb_pause_ms: float | None = None
    largest_client_gap_ms: float | None = None
    client_failures: int | None = None
    positions: dict[str, Any] = field(default_factory=dict)
    sequences: list[dict[str, Any]] = field(default_factory=list)
    preflight: dict[str, Any] = field(default_factory=dict)
    undone: bool = False
    slow_step: str | None = None
    error: str | None = None
    recovered: str | None = None
    fenced_side: str | None = None
    planned: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] | None = None


class CutoverBusy(DbopsError):
    """Another run of the same cutover is in progress."""


def validate(request: CutoverSwitchRequest) -> None:
    if request.action not in ACTIONS:
        raise DbopsError(f"action must be one of {', '.join(ACTIONS)}, not {request.action!r}")
    SwitchSides.for_direction(request.options.direction)
    if request.options.max_pause_ms <= 0:
        raise DbopsError("max_pause_ms must be > 0")
    if request.options.sequence_headroom < 0:
        raise DbopsError("sequence_headroom must not be negative")
    request.sides.validate()


def run_cutover_switch(request: CutoverSwitchRequest) -> CutoverSwitchResult:
    validate(request)
    result = CutoverSwitchResult(changed=False, action=request.action, direction=request.options.direction)
    with open_sides(request.sides, require=True) as sides:
        store = store_for(sides, request.options.name, result.queries, create=not request.check_mode)
        state = store.read().state
        if not request.check_mode:
            _take_lock(sides, request.options.name, state)
        if request.action == "fence_passive":
            _fence_passive(request, sides, store, state, result)
        else:
            _switch(request, sides, store, state, result)
    return result


def _take_lock(sides: OpenSides, name: str, state: CutoverState | None) -> None:
    busy = " (state: " + (f"{state.phase} at {state.step} ({state.step_status}), run {state.owner}"
                          if state is not None else "none") + ")"
    for side, conn in sides.pg.items():
        if not conn.execute(LOCK_SQL, (f"dbops_cutover:{name}",)).fetchone()[0]:
            raise CutoverBusy(f"another run of cutover {name!r} is in progress: it holds the cutover's lock on "
                              f"PostgreSQL {side}{busy}; wait for it to end (a crashed run's lock is released with "
                              "its sessions)")
    if not sides.pg and state is not None and state.in_progress and state.updated_at:
        age = (utc_now() - parse_iso(state.updated_at)).total_seconds()
        if age < LEASE_S:
            raise CutoverBusy(f"cutover {name!r} was {state.phase} {age:.0f} s ago by run {state.owner}{busy}: "
                              f"another run may be in progress; if it died, rerun after {LEASE_S:.0f} s")


def _fence_empty(record: FenceRecord) -> bool:
    postgres, mongodb = record.get("postgres"), record.get("mongodb")
    return (postgres is None or PgReadOnlyChange.from_dict(postgres).empty) and \
        (mongodb is None or MongoReadOnlyChange.from_dict(mongodb).empty)


def _fence_passive(request: CutoverSwitchRequest, sides: OpenSides, store: StateStore, state: CutoverState | None,
                   result: CutoverSwitchResult) -> None:
    options = request.options
    if state is not None and state.in_progress:
        raise CutoverBusy(f"cutover {options.name!r} is {state.phase} (at {state.step}): run the switch again to "
                          "complete or undo it before fencing")
    passive = other_side(state.active if state is not None else "blue")
    result.fenced_side = passive
    new_part = plan_fence(sides, passive, list(options.app_roles), list(options.app_users), None)
    record = plan_fence(sides, passive, list(options.app_roles), list(options.app_users),
                        state.fences.get(passive) if state is not None else None)
    result.changed = not _fence_empty(new_part) or state is None or not state.fenced(passive)
    if request.check_mode or not result.changed:
        if result.changed:
            result.queries += planned_fence_queries(sides, passive, new_part)
        result.state = state.to_dict() if state is not None else None
        return
    state = state or CutoverState(name=options.name)
    state.fences[passive] = record  # recorded before anything is revoked: any run can lift it exactly
    store.write(state)
    apply_fence(sides, passive, record, result.queries)
    result.state = state.to_dict()


def _switch(request: CutoverSwitchRequest, sides: OpenSides, store: StateStore, state: CutoverState | None,
            result: CutoverSwitchResult) -> None:
    options = request.options
    switch = SwitchSides.for_direction(options.direction)
    preflight.check_approval(request.approved, request.check_mode, switch)
    options.traffic.validate(bool(sides.pg), bool(sides.mongo))
    if state is not None and state.in_progress:
        if request.check_mode:
            result.recovered = planned_recovery(state)
            result.queries.append(f"-- would {'complete' if result.recovered == 'completed' else 'undo'} the "
                                  f"half-done switch {state.direction} stopped at {state.step} ({state.step_status})")
            result.changed = True
            result.state = state.to_dict()
            return
        recovering = SwitchRun(options=options, sides=sides, store=store, state=state,
                               switch=SwitchSides.for_direction(state.direction or options.direction),
                               queries=result.queries)
        result.recovered = recover(recovering)
        result.changed = True
        result.steps += recovering.steps
        state = recovering.state
    if state is None:  # recovery only runs on a state read back, so this is the plain no-state refusal
        raise preflight.SwitchRefused(f"cutover {options.name!r} has no state on any side: run prepare first")
    if state.active == switch.new:
        if state.cleanup_flow and not request.check_mode:
            cleanup_pending(_run(options, sides, store, state, switch, result), state.cleanup_flow)
        result.positions = dict(state.positions)
        result.state = state.to_dict()
        return
    preflight.check_state(state, switch, options.name)
    if sides.pg:
        result.preflight["postgres"] = preflight.check_postgres_flow(sides, switch)
    if sides.mongo:
        result.preflight["mongodb"] = preflight.check_mongodb_copy(sides, switch, result.queries)
    if request.check_mode:
        old_fence = plan_fence(sides, switch.old, list(options.app_roles), list(options.app_users), None)
        new_fence = plan_fence(sides, switch.new, list(options.app_roles), list(options.app_users), None)
        result.planned, planned_queries = planned_switch(sides, switch, options, old_fence, new_fence)
        result.queries += planned_queries
        result.changed = True
        result.state = state.to_dict()
        return
    run = _run(options, sides, store, state, switch, result)
    if state.cleanup_flow:
        cleanup_pending(run, state.cleanup_flow)
    start(run)
    state.owner = run_owner()
    probe = CommitProbe(options.probe_dsn).start() if options.probe_dsn else None
    try:
        run_switch(run)
    finally:
        if probe is not None:
            result.largest_client_gap_ms = probe.stop()
            result.client_failures = probe.failures
    result.changed = True
    result.steps += run.steps
    # Without PostgreSQL nothing is paused (the clock still bounds the MongoDB fence: mongodb_pause_ms).
    result.pause_ms = run.pause_ms if run.postgres else None
    result.mongodb_pause_ms = run.mongodb_pause_ms
    result.sequences = run.sequences
    result.positions = dict(state.positions)
    result.undone = state.undone
    result.slow_step = state.slow_step if state.undone else None
    result.error = state.error if state.undone else None
    result.state = state.to_dict()


def _run(options: SwitchOptions, sides: OpenSides, store: StateStore, state: CutoverState, switch: SwitchSides,
         result: CutoverSwitchResult) -> SwitchRun:
    return SwitchRun(options=options, sides=sides, store=store, state=state, switch=switch, queries=result.queries)

"""Undo a switch that has not reached its commit step: everything it did, in reverse, so that the old side is
active and writable again, the new side fenced, the forward flows running, and nothing lost (the application wrote
nothing on the new side: it was fenced all along).

Each action is idempotent and runs only when the state shows its step was at least intended, so the same function
undoes a switch that failed in this run and one that a crashed run left half-done. An action that fails does not
stop the others (the old side must be unfenced and PgBouncer resumed whatever else went wrong); the undo then ends
in phase undoing with the failures listed, and the next run repeats it.
"""

from __future__ import annotations

from collections.abc import Callable

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps, traffic
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.fence import lift_fence
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import UNDOING, UNDONE
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import (
    RECOVERY_TIMEOUT_S,
    SwitchRun,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import switch_steps

UNDO = "undo"


class UndoIncomplete(DbopsError):
    """Some undo actions failed; the state stays in phase undoing and the next run repeats the undo."""


def undo(run: SwitchRun, *, slow_step: str | None, error: str | None) -> None:
    state, switch, options = run.state, run.switch, run.options
    state.phase = UNDOING
    state.slow_step = slow_step or state.slow_step
    state.error = error or state.error
    run.store.write(state)
    run.queries.append(f"-- undo the switch to {switch.new}" + (f" ({error})" if error else ""))
    failures: list[str] = []

    def attempt(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every other undo action must still run
            failures.append(f"{what}: {exc}")

    new_pg = run.sides.pg.get(switch.new)
    old_pg = run.sides.pg.get(switch.old)
    if run.postgres and state.reached(steps.CATCH_UP):  # its publication is made there, its slot in REVERSE_FLOW
        attempt("drop the reverse flow", lambda: switch_steps.drop_flow(new_pg, old_pg, switch.reverse, run.queries))
    if run.postgres and state.reached(steps.DISABLE_FORWARD):
        attempt("enable the forward subscription",
                lambda: switch_steps.enable_subscription(new_pg, switch.forward, run.queries))
    if run.postgres and state.reached(steps.RETARGET):
        attempt("PgBouncer back", lambda: traffic.retarget(
            options.traffic, run.sides.endpoints.postgres_dsn(switch.old) or "", RECOVERY_TIMEOUT_S, run.queries))
    if run.mongodb and state.reached(steps.MONGODB_ROUTE):
        attempt("HAProxy back", lambda: traffic.route(options.traffic, switch.old, RECOVERY_TIMEOUT_S, run.queries))
    old_fence = state.fences.get(switch.old)
    fenced = state.reached(steps.MONGODB_FENCE_OLD) or state.reached(steps.FENCE_OLD)
    if fenced and old_fence:
        before = len(failures)
        attempt(f"unfence {switch.old}", lambda: lift_fence(run.sides, switch.old, old_fence, run.queries))
        if len(failures) == before:
            state.fences.pop(switch.old, None)
            run.store.write(state)  # the old side is writable again: no later run may lift or trust that record
        if run.mongodb and old_fence.get("mongodb"):
            # Clients that logged in while the old side was fenced log in again (traffic.reconnect_clients).
            attempt(f"reconnect the clients of {switch.old}", lambda: traffic.reconnect_clients(
                options.traffic, switch.old, RECOVERY_TIMEOUT_S, run.queries))
    elif not fenced:
        state.fences.pop(switch.old, None)  # only planned (with a fence step's intent), never applied
    if run.postgres and state.reached(steps.PAUSE):
        attempt("RESUME", lambda: traffic.resume(options.traffic, RECOVERY_TIMEOUT_S, run.queries))
    run.end_pause_clock()
    if failures:
        state.error = "undo incomplete: " + "; ".join(failures)
        run.store.write(state)
        raise UndoIncomplete(f"the switch to {switch.new} was only partly undone ({'; '.join(failures)}); the "
                             "state says undoing: rerun the switch to finish the undo")
    state.phase = UNDONE
    state.active = switch.old
    state.undone = True
    state.step, state.step_status = UNDO, "done"
    state.steps_done = []
    state.owner = None
    run.store.write(state)

"""A rerun after a crash (kill -9 at any step): the state says which step was intended or done, and the half-done
switch is finished one way or the other before anything else happens.

The rule: a switch that reached its commit step (unfence_new: the traffic already points at the new side and the
new side is, or is being, unfenced) is COMPLETED; any earlier one is UNDONE. Both are made of idempotent actions,
so a crash during the recovery itself is recovered the same way by the next run.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import UNDOING, CutoverState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch import complete
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import SwitchRun
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.undo import undo

COMPLETED = "completed"
UNDONE = "undone"


def committed(state: CutoverState) -> bool:
    return state.phase != UNDOING and any(state.reached(step) for step in steps.COMMITTED)


def planned_recovery(state: CutoverState) -> str:
    return COMPLETED if committed(state) else UNDONE


def recover(run: SwitchRun) -> str:
    state = run.state
    stopped_at = f"{state.step} ({state.step_status})"
    if committed(state):
        run.queries.append(f"-- a run stopped at {stopped_at} after the commit step: completing the switch to "
                           f"{run.switch.new}")
        complete(run)
        outcome = COMPLETED
    else:
        undo(run, slow_step=None, error=f"a run stopped at {stopped_at} before the commit step")
        outcome = UNDONE
    state.recovered = outcome
    run.store.write(state)
    return outcome

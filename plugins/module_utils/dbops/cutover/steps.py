"""THE steps of a switch, in order, and which of them run inside the pause.

A switch records each step in the cutover state before it runs it (intent) and counts it done once it returns (the
"done" travels with the next step's intent, one write per step on each copy, which keeps the pause short). Up to
and including RETARGET a failed or too slow step is undone; from UNFENCE_NEW on the switch is committed: the new
side is about to take (or takes) the application's writes, so a failure or a crash there is completed, never
undone (undoing would need the new side's writes sent back first).
"""

from __future__ import annotations

FENCE_NEW = "fence_new"  # refresh the passive side's fence (tables created since prepare), before the pause
CATCH_UP = "catch_up"  # wait until the lag is small, before the pause
PAUSE = "pause"  # PgBouncer PAUSE
FENCE_OLD = "fence_old"  # the old side refuses the application's writes
FENCE_TOKEN = "fence_token"  # the token row/document on the old side, and its positions
WAIT_NEW = "wait_new"  # until the new side has applied the token
DISABLE_FORWARD = "disable_forward"  # the forward subscription stops (its worker has exited)
SEQUENCES = "sequences"  # the new side's sequences past the old side's
REVERSE_FLOW = "reverse_flow"  # new -> old without copy, from the slot's position; MongoDB's reverse start
RETARGET = "retarget"  # PgBouncer's [databases] entry + RELOAD, HAProxy's backend
UNFENCE_NEW = "unfence_new"  # the new side takes the application's writes
RESUME = "resume"  # PgBouncer RESUME
FINISH = "finish"  # the state: the new side is active
CLEANUP = "cleanup"  # drop the disabled forward flow (releases the old side's WAL), after the pause

ORDER = (FENCE_NEW, CATCH_UP, PAUSE, FENCE_OLD, FENCE_TOKEN, WAIT_NEW, DISABLE_FORWARD, SEQUENCES, REVERSE_FLOW,
         RETARGET, UNFENCE_NEW, RESUME, FINISH, CLEANUP)
# The steps after which the pause's budget (max_pause_ms) is checked: a step too slow is undone.
BUDGETED = (PAUSE, FENCE_OLD, FENCE_TOKEN, WAIT_NEW, DISABLE_FORWARD, SEQUENCES, REVERSE_FLOW, RETARGET)
COMMIT = UNFENCE_NEW
COMMITTED = ORDER[ORDER.index(COMMIT):]

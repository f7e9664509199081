"""THE steps of a switch, in order, and which of them run inside the pause.

A switch records each step in the cutover state before it runs it (intent) and counts it done once it returns (the
"done" travels with the next step's intent, one write per step). Up to and including RETARGET a failed or too slow
step is undone; from UNFENCE_NEW on the switch is committed: the new side is about to take (or takes) the
application's writes, so a failure or a crash there is completed, never undone (undoing would need the new side's
writes sent back first).

The two databases pause one after the other, not together, so that neither pause holds the other's waits:
MongoDB's writes stop first (its fence, then the wait until the copy has applied its last write, then HAProxy
points at the still fenced new side), then PgBouncer's PAUSE holds PostgreSQL's clients only for PostgreSQL's own
steps. Both are committed by the same step (UNFENCE_NEW), and MongoDB's new side is unfenced right after RESUME.
Whatever is not needed to fix the switch position runs outside PgBouncer's pause: the reverse publication before
it, the reverse subscription (on the slot made inside it) after it.
"""

from __future__ import annotations

FENCE_NEW = "fence_new"  # refresh the passive side's fence (tables created since prepare), before the pause
CATCH_UP = "catch_up"  # wait until the lag is small; the reverse flow's publication, before the pause
MONGODB_FENCE_OLD = "mongodb_fence_old"  # the old side's MongoDB refuses the application's writes
MONGODB_DRAIN = "mongodb_drain"  # token on the old side, wait until the copy applied it; the reverse copy's start
MONGODB_ROUTE = "mongodb_route"  # HAProxy's backend on the new side (still fenced: writes are refused, retried)
PAUSE = "pause"  # PgBouncer PAUSE
FENCE_OLD = "fence_old"  # the old side's PostgreSQL refuses the application's writes
FENCE_TOKEN = "fence_token"  # the token row on the old side, and its position
WAIT_NEW = "wait_new"  # until the new side has applied the token
DISABLE_FORWARD = "disable_forward"  # the forward subscription disabled and its apply worker ended
SEQUENCES = "sequences"  # the new side's sequences past the old side's
REVERSE_FLOW = "reverse_flow"  # the slot new -> old: the reverse flow's start position
RETARGET = "retarget"  # PgBouncer's [databases] entry + RELOAD
UNFENCE_NEW = "unfence_new"  # the new side's PostgreSQL takes the application's writes
RESUME = "resume"  # PgBouncer RESUME
MONGODB_UNFENCE_NEW = "mongodb_unfence_new"  # the new side's MongoDB takes the application's writes
REVERSE_SUBSCRIPTION = "reverse_subscription"  # the subscription new -> old on the slot (the forward worker gone)
FINISH = "finish"  # the state: the new side is active
CLEANUP = "cleanup"  # drop the disabled forward flow (releases the old side's WAL), after the pause

ORDER = (FENCE_NEW, CATCH_UP, MONGODB_FENCE_OLD, MONGODB_DRAIN, MONGODB_ROUTE, PAUSE, FENCE_OLD, FENCE_TOKEN,
         WAIT_NEW, DISABLE_FORWARD, SEQUENCES, REVERSE_FLOW, RETARGET, UNFENCE_NEW, RESUME, MONGODB_UNFENCE_NEW,
         REVERSE_SUBSCRIPTION, FINISH, CLEANUP)
# The steps after which the budget (max_pause_ms, counted from the first fence) is checked: a step too slow is
# undone.
BUDGETED = (MONGODB_FENCE_OLD, MONGODB_DRAIN, MONGODB_ROUTE, PAUSE, FENCE_OLD, FENCE_TOKEN, WAIT_NEW,
            DISABLE_FORWARD, SEQUENCES, REVERSE_FLOW, RETARGET)
COMMIT = UNFENCE_NEW
COMMITTED = ORDER[ORDER.index(COMMIT):]

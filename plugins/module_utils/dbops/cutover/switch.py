"""The fenced switch from the old side O to the new side N, in one execution (see steps.py for the order).

MongoDB: fence O (the application's users lose their write roles) -> token on O, wait until the copy on N has
applied it (the reverse copy's start) -> HAProxy on N (still fenced).
PostgreSQL: PAUSE (PgBouncer) -> fence O (the application's roles lose their write grants; no system-wide setting)
-> fence token on O and O's position after it -> wait until N shows the token -> disable the forward subscription
(its worker ended) -> sequences on N past O's -> the reverse slot N -> O (its position: the switch position) ->
retarget PgBouncer + RELOAD -> unfence N -> RESUME.
Then: unfence N's MongoDB -> the reverse subscription on the slot -> state: N active -> drop the forward flow.

Never two writable sides: O is fenced before anything points at N, and N is unfenced only after the traffic points
at it; O stays fenced (it is the passive side now). The budget is timed from the first fence; after each budgeted
step the clock is checked, and every wait is bounded by what is left of max_pause_ms. A step that fails or passes
the budget before the commit step is undone (undo.py); a crash is completed or undone by the next run
(recovery.py).
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import positions, steps, traffic
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.fence import (
    apply_fence,
    lift_fence,
    plan_fence,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import (
    FALLEN_BACK,
    FALLING_BACK,
    SWITCHED,
    SWITCHING,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import (
    RECOVERY_TIMEOUT_S,
    PauseTooLong,
    SwitchRun,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.undo import undo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import switch_steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.postgres_lag import (
    LOGICAL,
    PostgresReplica,
    read_lag,
)

CATCH_UP_POLL_S = 0.1
MIN_WAIT_S = 0.01


class SwitchFailed(DbopsError):
    """A committed switch could not be completed, or an undo failed: the state says where; rerun the switch."""


def start(run: SwitchRun) -> None:
    """A new switch: the state records it as in progress (who runs it, which way) before the first step."""
    state = run.state
    state.phase = SWITCHING if run.switch.new == "green" else FALLING_BACK
    state.direction = run.options.direction
    state.steps_done, state.timings, state.positions = [], [], {}
    state.undone, state.slow_step, state.error, state.recovered = False, None, None, None


def run_switch(run: SwitchRun) -> None:
    """Every step up to the commit; a failure or a step over budget is undone (and re-raised as undone, not as an
    error: the result says undone and slow_step)."""
    forward = (_fence_new, _catch_up, _mongodb_fence_old, _mongodb_drain, _mongodb_route, _pause, _fence_old,
               _fence_token, _wait_new, _disable_forward, _sequences, _reverse_flow, _retarget)
    try:
        _forward_then_complete(run, forward)
    finally:
        run.close_console()


def _forward_then_complete(run: SwitchRun, forward: tuple) -> None:
    try:
        for action in forward:
            action(run)
    except PauseTooLong as exc:
        run.failed()
        undo(run, slow_step=exc.step, error=str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - any failure before the commit step is undone, then reported
        failed_step = run.state.step
        run.failed()
        try:
            undo(run, slow_step=failed_step, error=_reason(exc))
        except Exception as undo_exc:  # noqa: BLE001 - the state tells the next run where it stopped
            raise SwitchFailed(f"step {failed_step} failed ({_reason(exc)}) and the undo failed too "
                               f"({_reason(undo_exc)}); the state records the undo in progress: rerun the switch "
                               "to finish it") from None
        return
    complete(run)


def complete(run: SwitchRun) -> None:
    """The committed part: unfence N, RESUME, N's MongoDB, the reverse subscription, the state, the cleanup; also
    how a rerun finishes a crashed switch."""
    for action in (_unfence_new, _resume, _mongodb_unfence_new, _reverse_subscription, _finish):
        action(run)
    _cleanup(run)


def _step(run: SwitchRun, name: str) -> bool:
    """Begin the step unless a crashed run already completed it (completion only); False: skip it."""
    if name in run.state.steps_done:
        return False
    run.begin(name)
    return True


def _fence_new(run: SwitchRun) -> None:
    new = run.switch.new
    record = plan_fence(run.sides, new, list(run.options.app_roles), list(run.options.app_users),
                        run.state.fences.get(new))
    run.state.fences[new] = record
    run.begin(steps.FENCE_NEW)
    apply_fence(run.sides, new, record, run.queries)
    run.done(steps.FENCE_NEW)


def _catch_up(run: SwitchRun) -> None:
    run.begin(steps.CATCH_UP)
    if run.postgres:
        deadline = time.monotonic() + run.options.sync_timeout
        replica = PostgresReplica(kind=LOGICAL, name=run.switch.forward)
        shown: list[str] = []
        while True:
            reading = read_lag(run.sides.pg_conn(run.switch.old), replica, shown)
            run.positions["lag_bytes_before_pause"] = reading.lag_bytes
            if reading.lag_bytes is not None and reading.lag_bytes <= run.options.max_lag_bytes:
                break
            if time.monotonic() > deadline:
                raise DbopsError(f"PostgreSQL: {run.switch.new} is still {reading.lag_bytes} bytes behind after "
                                 f"{run.options.sync_timeout:g} s (max_lag_bytes {run.options.max_lag_bytes}): "
                                 "run sync first")
            time.sleep(CATCH_UP_POLL_S)
        run.queries.append(shown[0])
        # The reverse flow's publication now, outside the pause: inside it only the slot is made (its position).
        switch_steps.prepare_flow(run.sides.pg_conn(run.switch.new), run.sides.pg_conn(run.switch.old),
                                  run.switch.reverse, run.queries)
    run.done(steps.CATCH_UP)


def _mongodb_fence_old(run: SwitchRun) -> None:
    """MongoDB's writes stop first, and its budget starts: its fence record is planned before and stored with the
    intent, as PostgreSQL's is with the pause's."""
    old = run.switch.old
    if run.mongodb:
        run.state.fences[old] = plan_fence(run.sides, old, list(run.options.app_roles),
                                           list(run.options.app_users), run.state.fences.get(old))
    run.begin(steps.MONGODB_FENCE_OLD)
    if run.mongodb:
        run.start_budget_clock()
        run.mongodb_fenced_at = time.monotonic()
        apply_fence(run.sides, old, run.state.fences[old], run.queries, only="mongodb")
    run.done(steps.MONGODB_FENCE_OLD)
    run.check_budget(steps.MONGODB_FENCE_OLD)


def _mongodb_drain(run: SwitchRun) -> None:
    """The token on the old side, then until the copy on the new side has applied it; the new side's cluster time
    then is where the reverse copy starts (N took no application write yet, so it misses nothing)."""
    token = run.positions.get("token") or uuid.uuid4().hex
    run.positions["token"] = token
    run.begin(steps.MONGODB_DRAIN)
    if run.mongodb:
        old, new = run.switch.old, run.switch.new
        fence_time = positions.write_mongo_token(run.sides.mongo_client(old), run.sides.database, run.options.name,
                                                 old, token, run.queries, f"mongodb:{old}")
        run.positions["fence_cluster_time"] = positions.timestamp_text(fence_time)
        waited, applied = positions.wait_mongo_token(run.sides.mongo_client(new), run.sides.database, fence_time,
                                                     max(run.remaining_s(), MIN_WAIT_S), run.queries,
                                                     f"mongodb:{new}")
        run.positions["mongodb_wait_ms"] = waited
        run.positions["applied_cluster_time"] = positions.timestamp_text(applied)
        run.positions["reverse_start"] = positions.timestamp_text(
            positions.mongo_cluster_time(run.sides.mongo_client(new)))
    run.done(steps.MONGODB_DRAIN)
    run.check_budget(steps.MONGODB_DRAIN)


def _mongodb_route(run: SwitchRun) -> None:
    run.begin(steps.MONGODB_ROUTE)
    if run.mongodb:
        traffic.route(run.options.traffic, run.switch.new, max(run.remaining_s(), MIN_WAIT_S), run.queries)
    run.done(steps.MONGODB_ROUTE)
    run.check_budget(steps.MONGODB_ROUTE)


def _pause(run: SwitchRun) -> None:
    # The old side's fence is planned (catalog reads) before the pause and stored with the pause's intent, so the
    # pause holds only the revokes themselves (the MongoDB part planned with its own fence is kept as it is).
    old = run.switch.old
    if run.postgres:
        planned = plan_fence(run.sides, old, list(run.options.app_roles), list(run.options.app_users),
                             run.state.fences.get(old))
        run.state.fences[old] = {**run.state.fences.get(old, {}), "postgres": planned["postgres"]}
    if run.postgres and run.pgbouncer_console is None:
        run.pgbouncer_console = traffic.open_console(run.options.traffic, RECOVERY_TIMEOUT_S)
    run.begin(steps.PAUSE)
    run.start_pause_clock()
    if run.postgres:
        traffic.pause(run.options.traffic, max(run.remaining_s(), MIN_WAIT_S), run.queries, run.pgbouncer_console)
    run.done(steps.PAUSE)
    run.check_budget(steps.PAUSE)


def _fence_old(run: SwitchRun) -> None:
    old = run.switch.old
    record = run.state.fences.get(old) or {}  # stored with the pause's intent, before anything is revoked
    run.begin(steps.FENCE_OLD)
    apply_fence(run.sides, old, record, run.queries, only="postgres")
    run.done(steps.FENCE_OLD)
    run.check_budget(steps.FENCE_OLD)


def _fence_token(run: SwitchRun) -> None:
    token = run.positions.get("token") or uuid.uuid4().hex
    run.positions["token"] = token
    run.begin(steps.FENCE_TOKEN)
    old = run.switch.old
    if run.postgres:
        run.positions["fence_lsn"] = positions.write_pg_token(run.sides.pg_conn(old), run.options.name, old, token,
                                                              run.queries, f"postgres:{old}")
    run.done(steps.FENCE_TOKEN)
    run.check_budget(steps.FENCE_TOKEN)


def _wait_new(run: SwitchRun) -> None:
    run.begin(steps.WAIT_NEW)
    new, token = run.switch.new, run.positions["token"]
    if run.postgres:
        run.positions["postgres_wait_ms"] = positions.wait_pg_token(
            run.sides.pg_conn(new), token, max(run.remaining_s(), MIN_WAIT_S), run.queries, f"postgres:{new}")
    run.done(steps.WAIT_NEW)
    run.check_budget(steps.WAIT_NEW)


def _disable_forward(run: SwitchRun) -> None:
    run.begin(steps.DISABLE_FORWARD)
    if run.postgres:
        _disable_forward_subscription(run)
    run.done(steps.DISABLE_FORWARD)
    run.check_budget(steps.DISABLE_FORWARD)


def _disable_forward_subscription(run: SwitchRun) -> None:
    """DISABLE, and the apply worker ended rather than waited for (an idle worker notices DISABLE only at its next
    wake-up): it has applied the fence token, and the launcher does not start a disabled subscription's worker
    again. Its exit is waited for after RESUME, before the reverse subscription (reverse_subscription)."""
    switch_steps.stop_subscription(run.sides.pg_conn(run.switch.new), run.switch.forward, run.queries)


def _sequences(run: SwitchRun) -> None:
    run.begin(steps.SEQUENCES)
    if run.postgres:
        run.sequences = switch_steps.advance_sequences(run.sides.pg_conn(run.switch.old),
                                                       run.sides.pg_conn(run.switch.new), run.queries,
                                                       headroom=run.options.sequence_headroom)
    run.done(steps.SEQUENCES)
    run.check_budget(steps.SEQUENCES)


def _reverse_flow(run: SwitchRun) -> None:
    """The slot N -> O, inside the pause: N has applied everything of O and takes no write yet, so the slot's
    position is the switch position. The subscription on it comes after RESUME (reverse_subscription); the slot
    keeps every write N takes meanwhile."""
    run.begin(steps.REVERSE_FLOW)
    if run.postgres:
        new_conn = run.sides.pg_conn(run.switch.new)
        run.positions["switch_lsn"] = switch_steps.current_lsn(new_conn)
        run.positions["reverse_lsn"] = switch_steps.create_flow_slot(new_conn, run.switch.reverse, run.queries)
    run.done(steps.REVERSE_FLOW)
    run.check_budget(steps.REVERSE_FLOW)


def _retarget(run: SwitchRun) -> None:
    run.begin(steps.RETARGET)
    new = run.switch.new
    if run.postgres:
        traffic.retarget(run.options.traffic, run.sides.endpoints.postgres_dsn(new) or "",
                         max(run.remaining_s(), MIN_WAIT_S), run.queries, run.pgbouncer_console)
    run.done(steps.RETARGET)
    run.check_budget(steps.RETARGET)


def _unfence_new(run: SwitchRun) -> None:
    """The commit step: N's PostgreSQL takes writes (the clients are still paused; RESUME is next)."""
    if not _step(run, steps.UNFENCE_NEW):
        return
    new = run.switch.new
    record = run.state.fences.get(new)
    if record:
        lift_fence(run.sides, new, record, run.queries, only="postgres")
        if record.get("mongodb"):
            run.state.fences[new] = {**record, "postgres": None}
        else:
            run.state.fences.pop(new, None)
    run.done(steps.UNFENCE_NEW)


def _resume(run: SwitchRun) -> None:
    if not _step(run, steps.RESUME):
        return
    if run.postgres:
        traffic.resume(run.options.traffic, RECOVERY_TIMEOUT_S, run.queries, run.pgbouncer_console)
    run.end_pause_clock()
    run.done(steps.RESUME)


def _mongodb_unfence_new(run: SwitchRun) -> None:
    if not _step(run, steps.MONGODB_UNFENCE_NEW):
        return
    new = run.switch.new
    record = run.state.fences.get(new)
    if record and record.get("mongodb"):
        lift_fence(run.sides, new, record, run.queries, only="mongodb")
        traffic.reconnect_clients(run.options.traffic, new, RECOVERY_TIMEOUT_S, run.queries)
    if run.mongodb_fenced_at is not None:
        run.mongodb_pause_ms = round((time.monotonic() - run.mongodb_fenced_at) * 1000, 1)
    run.state.fences.pop(new, None)
    run.done(steps.MONGODB_UNFENCE_NEW)


def _reverse_subscription(run: SwitchRun) -> None:
    """The subscription O <- N on the slot made inside the pause, once the forward apply worker has exited (a
    worker still applying while the reverse flow runs would send rows back: PostgreSQL 15 has no origin filter)."""
    if not _step(run, steps.REVERSE_SUBSCRIPTION):
        return
    if run.postgres:
        new_conn = run.sides.pg_conn(run.switch.new)
        switch_steps.wait_workers_gone(new_conn, run.switch.forward)
        switch_steps.subscribe_flow(run.sides.pg_conn(run.switch.old), run.switch.reverse,
                                    run.sides.endpoints.postgres_dsn(run.switch.new) or "", run.queries)
    run.done(steps.REVERSE_SUBSCRIPTION)


def _finish(run: SwitchRun) -> None:
    if not _step(run, steps.FINISH):
        return
    state = run.state
    state.active = run.switch.new
    state.phase = SWITCHED if run.switch.new == "green" else FALLEN_BACK
    state.cleanup_flow = run.switch.forward if run.postgres else None
    state.owner = None
    state.positions.update({"pause_ms": run.pause_ms if run.postgres else None,
                            "mongodb_pause_ms": run.mongodb_pause_ms})
    run.done(steps.FINISH)
    state.step, state.step_status = steps.FINISH, "done"
    run.store.write(state)


def _cleanup(run: SwitchRun) -> None:
    """After RESUME: drop the disabled forward flow (its slot holds the old side's WAL). A failure is a warning
    for the report, not an undo: the switch is done, and the next run drops the flow first."""
    cleanup_pending(run, run.state.cleanup_flow)


def cleanup_pending(run: SwitchRun, flow: str | None) -> None:
    if not flow or not run.postgres:
        return
    state = run.state
    publisher, subscriber = _flow_sides(flow)
    run.begin(steps.CLEANUP)
    try:
        switch_steps.drop_flow(run.sides.pg_conn(publisher), run.sides.pg_conn(subscriber), flow, run.queries)
    except DbopsError as exc:
        run.failed()
        state.error = f"cleanup of {flow} failed (the next run retries it): {exc}"
        run.store.write(state)
        return
    run.done(steps.CLEANUP)
    state.cleanup_flow = None
    state.step, state.step_status = steps.CLEANUP, "done"
    run.store.write(state)


def _flow_sides(flow: str) -> tuple[str, str]:
    source, _to, target = flow.removeprefix("dbops_cutover_").partition("_to_")
    return source, target


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DbopsError) else " ".join(str(exc).split())[:300] or type(exc).__name__

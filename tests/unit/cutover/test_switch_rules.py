"""The switch's rules without servers: the refusals of the preflight, which half-done switch is completed and
which undone, the pause's budget, the crash hook, and small helpers."""

from __future__ import annotations

import time

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import crash_test_hook, steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.fence import FenceError, plan_mongodb
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SwitchSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.preflight import (
    SwitchRefused,
    check_approval,
    check_state,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.recovery import committed, planned_recovery
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import UNDOING, CutoverState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch import _flow_sides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import (
    PauseTooLong,
    SwitchOptions,
    SwitchRun,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import (
    TrafficSettings,
    pgbouncer_target,
)

TO_GREEN = SwitchSides.for_direction("to_green")
FENCED_GREEN = {"green": {"postgres": {"revoked": []}, "mongodb": None}}


def test_approval_is_required_except_in_check_mode():
    with pytest.raises(SwitchRefused, match="the switch to green needs approved=true"):
        check_approval(False, False, TO_GREEN)
    check_approval(False, True, TO_GREEN)
    check_approval(True, False, TO_GREEN)


@pytest.mark.parametrize(("state", "message"), [
    (None, "has no state on any side: run prepare first"),
    (CutoverState(name="default", phase="preparing"), "is preparing .* a switch needs one of prepared"),
    (CutoverState(name="default", phase="aborted"), "is aborted"),
    (CutoverState(name="default", phase="undone", active="green", fences=FENCED_GREEN), "the active side is green"),
    (CutoverState(name="default", phase="prepared"), "green is not fenced for the application"),
])
def test_state_refusals(state, message):
    with pytest.raises(SwitchRefused, match=message):
        check_state(state, TO_GREEN, "default")


def test_state_allows_a_prepared_or_undone_cutover():
    for phase in ("prepared", "undone", "fallen_back"):
        check_state(CutoverState(name="default", phase=phase, fences=FENCED_GREEN), TO_GREEN, "default")


@pytest.mark.parametrize(("stopped_at", "outcome"), [
    *[(step, "undone") for step in steps.ORDER[:steps.ORDER.index(steps.COMMIT)]],
    *[(step, "completed") for step in steps.COMMITTED],
])
def test_before_the_commit_step_undo_from_it_complete(stopped_at, outcome):
    state = CutoverState(name="x", phase="switching", steps_done=list(steps.ORDER[:steps.ORDER.index(stopped_at)]))
    state.begin_step(stopped_at)
    assert planned_recovery(state) == outcome


def test_an_undo_in_progress_is_undone_again():
    state = CutoverState(name="x", phase=UNDOING, steps_done=list(steps.ORDER[:-1]))
    assert not committed(state)


class _Store:
    def __init__(self) -> None:
        self.written: list[tuple[str | None, str | None]] = []
        self.postgres_only: list[bool] = []

    def write(self, state: CutoverState, *, postgres_only: bool = False) -> None:
        self.written.append((state.step, state.step_status))
        self.postgres_only.append(postgres_only)


class _PgSides:
    pg = {"blue": object(), "green": object()}
    mongo: dict = {}


def _run(max_pause_ms: int) -> SwitchRun:
    return SwitchRun(options=SwitchOptions(max_pause_ms=max_pause_ms), sides=None, store=_Store(),  # type: ignore[arg-type]
                     state=CutoverState(name="x"), switch=TO_GREEN, queries=[])


def test_each_step_is_recorded_before_it_runs_and_timed():
    run = _run(1000)
    run.begin(steps.PAUSE)
    assert run.store.written == [(steps.PAUSE, "intent")]  # type: ignore[attr-defined]
    run.done(steps.PAUSE)
    assert run.steps[0]["name"] == steps.PAUSE and run.steps[0]["ok"] and run.state.steps_done == [steps.PAUSE]


def test_inside_the_pause_the_state_goes_to_the_postgres_copies_only():
    run = _run(1000)
    run.sides = _PgSides()  # type: ignore[assignment]
    run.begin(steps.CATCH_UP)
    run.done(steps.CATCH_UP)
    run.start_pause_clock()
    run.begin(steps.FENCE_OLD)
    run.done(steps.FENCE_OLD)
    run.end_pause_clock()
    run.begin(steps.MONGODB_UNFENCE_NEW)
    assert run.store.postgres_only == [False, True, False]  # type: ignore[attr-defined]
    assert run.pause_ms is not None and run.steps[1]["duration_ms"] >= 0


def test_the_budget_runs_from_the_first_fence_the_pause_from_pause():
    run = _run(10_000)
    run.start_budget_clock()  # MongoDB's fence
    time.sleep(0.02)
    run.start_pause_clock()
    run.end_pause_clock()
    assert run.elapsed_ms() >= 20 and run.pause_ms is not None and run.pause_ms < run.elapsed_ms()
    first = run.pause_ms
    run.end_pause_clock()  # an undo after RESUME does not move it
    assert run.pause_ms == first


def test_the_budget_is_checked_after_a_budgeted_step():
    run = _run(5)
    run.check_budget(steps.PAUSE)  # the clock has not started
    run.start_pause_clock()
    time.sleep(0.02)
    with pytest.raises(PauseTooLong, match="at step wait_new .*max_pause_ms 5") as caught:
        run.check_budget(steps.WAIT_NEW)
    assert caught.value.step == steps.WAIT_NEW
    run.check_budget(steps.UNFENCE_NEW)  # committed steps are never undone for time
    assert run.remaining_s() == 0.0


def test_the_crash_hook_exits_like_kill_9_only_at_its_step(monkeypatch):
    exits: list[int] = []
    monkeypatch.setattr(crash_test_hook.os, "_exit", exits.append)
    monkeypatch.setenv(crash_test_hook.CRASH_AT_VARIABLE, steps.RETARGET)
    crash_test_hook.crash_if_asked(steps.PAUSE)
    crash_test_hook.crash_if_asked(steps.RETARGET)
    assert exits == [137]


def test_helpers():
    assert _flow_sides("dbops_cutover_blue_to_green") == ("blue", "green")
    assert pgbouncer_target("postgresql://u:p@db.example:6543/shop") == ("db.example", 6543, "shop")
    assert pgbouncer_target("host=10.0.0.5 dbname=app user=x") == ("10.0.0.5", 5432, "app")
    with pytest.raises(DbopsError, match="needs pgbouncer_admin_dsn"):
        TrafficSettings().validate(postgres=True, mongodb=False)
    with pytest.raises(DbopsError, match="blue_postgres_dsn and green_postgres_dsn go together"):
        SideEndpoints(blue_postgres_dsn="postgresql://x").validate()
    with pytest.raises(DbopsError, match="mongodb_database is required"):
        SideEndpoints(blue_mongodb_uri="mongodb://a", green_mongodb_uri="mongodb://b").validate()


def test_unknown_app_users_are_refused(monkeypatch):
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import fence
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import MongoUser

    monkeypatch.setattr(fence, "users_with_roles_on",
                        lambda client, db: [MongoUser("app", db, (("readWrite", db),))])
    with pytest.raises(FenceError, match="app_users names users that hold no role on shop: ghost@shop"):
        plan_mongodb(object(), "shop", ["app", "ghost"], None)

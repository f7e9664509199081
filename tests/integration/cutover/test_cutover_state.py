"""cutover_state through Ansible against the real estate: the state is kept in four copies (PostgreSQL and MongoDB,
blue and green), recorded once per phase (a rerun changes nothing, check mode writes nothing), read back from the
newest generation, read with a side down (named in `copies`), refused while a switch is in progress; and
cutover_switch's fence_passive in check mode and for real."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints, open_sides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import SWITCHING
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import store_for
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_state import (
    CutoverStateRequest,
    run_cutover_state,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import run_cutover_switch
from tests.integration.cutover.estate_fixtures import endpoints, switch_request
from tests.support.ansible_cli import run_module
from tests.support.cutover_estate import APP_PASSWORD, CutoverEstate, start_estate
from tests.support.pg_cluster import SUPERUSER_PASSWORD
from tests.support.writable_sides import writable_sides

pytestmark = pytest.mark.slow

LABELS = {"postgres:blue", "postgres:green", "mongodb:blue", "mongodb:green"}


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CutoverEstate]:
    with start_estate(tmp_path_factory.mktemp("cutover-state")) as started:
        yield started


def sides_args(estate: CutoverEstate, **extra) -> dict:
    return {"blue_postgres_dsn": estate.blue_dsn, "green_postgres_dsn": estate.green_dsn,
            "blue_mongodb_uri": estate.blue_mongo_uri, "green_mongodb_uri": estate.green_mongo_uri,
            "mongodb_database": estate.mongodb_database, **extra}


def state_module(estate: CutoverEstate, *extra: str, **args) -> dict:
    """The module through Ansible (slow to start: used where the module itself is the point)."""
    run = run_module("sevenp.dbops.cutover_state", sides_args(estate, **args), *extra)
    assert SUPERUSER_PASSWORD not in run.output and "admin-secret" not in run.output
    return run.result


def state_engine(estate: CutoverEstate, *extra: str, **args) -> dict:
    """The module's engine, as the module calls it; None values dropped like the module's result."""
    params = sides_args(estate, **args)
    sides = {name: params[name] for name in ("blue_postgres_dsn", "green_postgres_dsn", "blue_mongodb_uri",
                                             "green_mongodb_uri", "mongodb_database")}
    result = run_cutover_state(CutoverStateRequest(sides=SideEndpoints(**sides), name="default",
                                                   action=params.get("action", "status"),
                                                   phase=params.get("phase"), check_mode="--check" in extra))
    return {key: value for key, value in result.as_dict().items() if value is not None}


def test_no_state_yet(estate: CutoverEstate):
    result = state_engine(estate)
    assert result.get("state") is None and not result["changed"] and result["writable_side"] == "blue"
    assert {copy["label"]: copy["generation"] for copy in result["copies"]} == dict.fromkeys(LABELS)


def test_record_in_check_mode_writes_nothing(estate: CutoverEstate):
    result = state_module(estate, "--check", action="record", phase="preparing")
    assert result["changed"] and result.get("state") is None
    assert state_module(estate).get("state") is None


def test_record_writes_every_copy_once(estate: CutoverEstate):
    result = state_module(estate, action="record", phase="preparing")
    assert result["changed"] and result["phase"] == "preparing" and result["active"] == "blue"
    assert {copy["label"]: copy["generation"] for copy in result["copies"]} == dict.fromkeys(LABELS, 1)
    assert any("CREATE TABLE IF NOT EXISTS dbops.cutover_state" in query for query in result["queries"])
    again = state_engine(estate, action="record", phase="preparing")
    assert not again["changed"] and again["state"]["generation"] == 1
    prepared = state_engine(estate, action="record", phase="prepared")
    assert prepared["changed"] and prepared["state"]["generation"] == 2


def test_the_newest_generation_wins_and_a_side_down_is_named(estate: CutoverEstate):
    # Only blue's PostgreSQL copy takes a newer record (as if the others had been unreachable for that write).
    with open_sides(endpoints(estate), require=True) as sides:
        store = store_for(sides, "default", [], create=False)
        state = store.read().state
        assert state is not None
        state.phase = "aborted"
        state.generation += 1
        store.copies[0].write(state)
        assert store.copies[0].label == "postgres:blue"
    result = state_engine(estate)
    assert result["phase"] == "aborted" and result["state"]["generation"] == 3
    generations = {copy["label"]: copy.get("generation") for copy in result["copies"]}
    assert generations == {"postgres:blue": 3, "postgres:green": 2, "mongodb:blue": 2, "mongodb:green": 2}
    down = estate.green_dsn.replace(f":{estate.cluster('green').port}/", ":1/")
    partial = state_engine(estate, green_postgres_dsn=down)
    assert partial["phase"] == "aborted"
    errors = {copy["label"]: copy.get("error") for copy in partial["copies"] if "error" in copy}
    assert set(errors) == {"postgres:green"} and "cannot reach PostgreSQL" in errors["postgres:green"]
    with pytest.raises(Exception, match="cannot reach PostgreSQL"):
        state_engine(estate, green_postgres_dsn=down, action="record", phase="prepared")


def test_record_is_refused_while_a_switch_is_in_progress(estate: CutoverEstate):
    with open_sides(endpoints(estate), require=True) as sides:
        store = store_for(sides, "default", [], create=False)
        state = store.read().state
        assert state is not None
        state.phase, state.step, state.step_status = SWITCHING, "fence_old", "intent"
        store.write(state)
        result = state_engine(estate)
        assert result["in_progress"] and result.get("writable_side") is None and result["step"] == "fence_old"
        with pytest.raises(Exception, match=r"is switching \(at step fence_old, intent\): run the switch again"):
            state_engine(estate, action="record", phase="aborted")
        state.phase, state.step, state.step_status = "prepared", None, None
        store.write(state)


def test_fence_passive_fences_green_only(estate: CutoverEstate):
    args = sides_args(estate, action="fence_passive", app_roles=[estate.app_user], app_users=estate.app_users)
    request = switch_request(estate, action="fence_passive", check_mode=True)
    planned = run_cutover_switch(request)
    assert planned.changed and any("REVOKE" in query or "ALTER ROLE" in query for query in planned.queries)
    assert writable_sides(estate)["mongodb"] == ["blue", "green"]  # check mode changed nothing
    done = run_module("sevenp.dbops.cutover_switch", args)
    assert done.returncode == 0 and done.result["changed"] and done.result["fenced_side"] == "green", done.output
    assert APP_PASSWORD not in done.output
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}
    generation = state_engine(estate)["state"]["generation"]
    again = run_cutover_switch(replace(request, check_mode=False))
    assert not again.changed and again.queries == []
    assert state_engine(estate)["state"]["generation"] == generation
    assert set(state_engine(estate)["state"]["fences"]) == {"green"}

"""The cutover state record and its store, without servers: round trips, the newest generation, which side is
writable, the step bookkeeping, and writes that miss a copy (reported) or every copy (refused)."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import (
    SWITCHING,
    CutoverState,
    CutoverStateError,
    newest,
    writable_side,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import StateCopy, StateStore


def memory_copy(label: str, records: dict[str, dict], fail: bool = False) -> StateCopy:
    def read(name: str):
        if fail:
            raise OSError("connection refused")
        return records.get(name)

    def write(state: CutoverState) -> None:
        if fail:
            raise OSError("connection refused")
        current = records.get(state.name)
        if current is None or current["generation"] < state.generation:
            records[state.name] = state.to_dict()

    return StateCopy(label, read, write)


def test_round_trip_ignores_unknown_fields_and_refuses_unknown_phases():
    state = CutoverState(name="x", fences={"green": {"postgres": {"revoked": []}, "mongodb": None}})
    data = {**state.to_dict(), "added_by_a_newer_version": 1}
    assert CutoverState.from_dict(data) == state
    with pytest.raises(CutoverStateError, match="unknown phase 'sideways'"):
        CutoverState.from_dict({"name": "x", "phase": "sideways"})


def test_newest_and_writable_side():
    older, newer = CutoverState(name="x", generation=3), CutoverState(name="x", generation=5, active="green")
    assert newest([older, newer]) is newer and newest([]) is None
    assert writable_side(None) == "blue" and writable_side(newer) == "green"
    newer.phase = SWITCHING
    assert writable_side(newer) is None  # half-way: no side is sure
    newer.phase = "switched"
    newer.fences = {"green": {"postgres": {"revoked": []}}}
    assert writable_side(newer) is None  # the active side itself fenced


def test_steps_intent_then_done():
    state = CutoverState(name="x")
    state.begin_step("pause")
    assert state.reached("pause") and (state.step, state.step_status) == ("pause", "intent")
    state.finish_step("pause")
    state.begin_step("fence_old")
    assert state.steps_done == ["pause"] and state.reached("pause") and not state.reached("retarget")


def test_write_raises_the_generation_and_reports_a_missed_copy():
    blue, green = {}, {}
    store = StateStore("x", [memory_copy("postgres:blue", blue), memory_copy("postgres:green", green, fail=True)])
    state = CutoverState(name="x")
    store.write(state)
    store.write(state)
    assert blue["x"]["generation"] == 2 and not green
    assert store.missed == {"postgres:green": "connection refused"}
    reading = store.read()
    assert reading.state is not None and reading.state.generation == 2
    assert reading.unreachable == {"postgres:green": "connection refused"}


def test_a_write_no_copy_took_is_refused():
    store = StateStore("x", [memory_copy("postgres:blue", {}, fail=True), memory_copy("mongodb:blue", {}, fail=True)])
    with pytest.raises(CutoverStateError, match="could not be written anywhere: postgres:blue: connection refused"):
        store.write(CutoverState(name="x"))


def test_the_newest_copy_wins_on_read():
    old = CutoverState(name="x", generation=2, phase="prepared")
    new = CutoverState(name="x", generation=7, phase="switched", active="green")
    store = StateStore("x", [memory_copy("a", {"x": old.to_dict()}), memory_copy("b", {"x": new.to_dict()}),
                             memory_copy("c", {})])
    reading = store.read()
    assert reading.state == new and reading.generations == {"a": 2, "b": 7, "c": None}


def test_a_postgres_only_write_skips_the_mongodb_copies_and_the_newest_still_wins():
    pg, mongo = {}, {}
    store = StateStore("x", [memory_copy("postgres:blue", pg), memory_copy("mongodb:blue", mongo)])
    state = CutoverState(name="x")
    store.write(state)
    state.begin_step("pause")
    store.write(state, postgres_only=True)
    assert pg["x"]["generation"] == 2 and mongo["x"]["generation"] == 1
    reading = store.read()
    assert reading.state is not None and reading.state.step == "pause"
    only_mongo = StateStore("x", [memory_copy("mongodb:blue", mongo)])
    only_mongo.write(state, postgres_only=True)  # no PostgreSQL copy: every copy is written
    assert mongo["x"]["generation"] == 3

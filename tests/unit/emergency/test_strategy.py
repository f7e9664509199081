"""Every rule of the emergency strategy, and their order (plugins/module_utils/dbops/emergency/strategy.py)."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.strategy import (
    FULL_PITR,
    MANUAL,
    NONE,
    REPAIR_IN_PLACE,
    RESTORE_OBJECTS,
    ROLL_BACK,
    StrategyInput,
    choose_strategy,
)


def facts(**changes) -> StrategyInput:
    base = {"severity": "high", "missing_tables": [], "missing_collections": [], "recovery_point": "rp1"}
    return StrategyInput(**{**base, **changes})


def test_nothing_found_is_nothing_to_recover():
    chosen = choose_strategy(facts())
    assert (chosen.name, chosen.rule) == (NONE, "5-nothing-found")


def test_nothing_found_at_severity_critical_is_a_full_pitr_to_the_point():
    chosen = choose_strategy(facts(severity="critical"))
    assert (chosen.name, chosen.rule, chosen.recovery_point) == (FULL_PITR, "5-critical-unlocalised", "rp1")


def test_critical_with_unknown_inventory_says_so():
    chosen = choose_strategy(facts(severity="critical", missing_tables=None))
    assert chosen.name == FULL_PITR and "inventory" in chosen.reason


def test_critical_without_a_recovery_point_is_manual():
    chosen = choose_strategy(facts(severity="critical", recovery_point=None))
    assert (chosen.name, chosen.rule) == (MANUAL, "5-critical-unlocalised")


def test_a_half_applied_set_is_repaired_in_place_with_the_chosen_on_partial():
    chosen = choose_strategy(facts(half_applied=["2024.002", "2024.003"]))
    assert (chosen.name, chosen.rule, chosen.on_partial, chosen.target_version) == (
        REPAIR_IN_PLACE, "2-half-applied-set", "compensate", "2024.003")
    assert choose_strategy(facts(half_applied=["2"], on_partial="resume")).on_partial == "resume"


def test_a_failing_verification_rolls_back_to_the_version_before_the_first_failing_set():
    chosen = choose_strategy(facts(failing_verification=["3", "5"], version_before_first_failing="2"))
    assert (chosen.name, chosen.rule, chosen.target_version) == (ROLL_BACK, "3-failed-verification", "2")


def test_missing_objects_are_restored_from_the_recovery_point():
    chosen = choose_strategy(facts(missing_tables=["public.orders"], missing_collections=["events"]))
    assert (chosen.name, chosen.rule) == (RESTORE_OBJECTS, "4-missing-objects")
    assert (chosen.tables, chosen.collections, chosen.recovery_point) == (["public.orders"], ["events"], "rp1")


def test_missing_objects_without_a_point_are_manual():
    assert choose_strategy(facts(missing_tables=["public.t"], recovery_point=None)).name == MANUAL


def test_more_objects_missing_than_a_narrow_restore_handles_is_wide_damage():
    chosen = choose_strategy(facts(missing_tables=["public.a", "public.b"], missing_collections=["c", "d"]))
    assert (chosen.name, chosen.rule, chosen.recovery_point) == (FULL_PITR, "1-wide-damage", "rp1")
    narrow = choose_strategy(facts(missing_tables=["public.a", "public.b"], missing_collections=["c", "d"],
                                   max_narrow_objects=4))
    assert narrow.name == RESTORE_OBJECTS


def test_wide_damage_without_a_point_is_manual():
    chosen = choose_strategy(facts(missing_tables=["public.a", "public.b", "public.c", "public.d"],
                                   recovery_point=None))
    assert (chosen.name, chosen.rule) == (MANUAL, "1-wide-damage")


# The order: each pair below has the conditions of two rules at once; the earlier rule wins.
@pytest.mark.parametrize(("changes", "expected"), [
    ({"missing_tables": ["public.t"], "half_applied": ["2"]}, FULL_PITR),  # 1 before 2 and 4
    ({"missing_collections": ["c"], "failing_verification": ["3"]}, FULL_PITR),  # 1 before 3 and 4
    ({"half_applied": ["4"], "failing_verification": ["3"]}, REPAIR_IN_PLACE),  # 2 before 3
    ({"severity": "critical", "half_applied": ["4"]}, REPAIR_IN_PLACE),  # 2 before 5
    ({"severity": "critical", "failing_verification": ["3"]}, ROLL_BACK),  # 3 before 5
    ({"severity": "critical", "missing_tables": ["public.t"]}, RESTORE_OBJECTS),  # 4 before 5
])
def test_rule_order(changes, expected):
    assert choose_strategy(facts(**changes)).name == expected


def test_bad_inputs_are_refused_with_their_names():
    with pytest.raises(ValueError, match="severity"):
        choose_strategy(facts(severity="urgent"))
    with pytest.raises(ValueError, match="on_partial"):
        choose_strategy(facts(on_partial="retry"))

"""Repeatable migrations in the plan: after every version, again when changed, never drift, never rolled back."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.dependency_graph import DependencyGraph
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import LedgerEntry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.planner import check_drift, make_plan


def _sets(tmp_path, view="SELECT 1"):
    (tmp_path / "V1__a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "U1__a.sql").write_text("DROP TABLE a;\n")
    (tmp_path / "V2__b.sql").write_text("CREATE TABLE b (id int);\n")
    (tmp_path / "R__view.sql").write_text(f"CREATE OR REPLACE VIEW v AS {view};\n")
    return discover(tmp_path)[1]


def _applied(sets):
    return {"postgres": {s.version: LedgerEntry(s.version, "applied", s.postgres.checksum) for s in sets}}


def _plan(sets, ledgers, **kwargs):
    kwargs.setdefault("state", "applied")
    kwargs.setdefault("target", "latest")
    return make_plan(sets, DependencyGraph(sets), ledgers, on_partial="resume", **kwargs)


def test_a_fresh_database_applies_the_versions_then_the_repeatable(tmp_path):
    plan = _plan(_sets(tmp_path), {})
    assert [a.version for a in plan.actions] == ["1", "2", "R__view"]
    assert not plan.warnings


def test_a_changed_repeatable_is_applied_again_and_is_not_drift(tmp_path):
    ledgers = _applied(_sets(tmp_path))
    changed = _sets(tmp_path, view="SELECT 2")
    warnings: list[str] = []
    check_drift(changed, ledgers, False, warnings)  # would raise DriftError for a versioned file
    plan = _plan(changed, ledgers)
    assert [a.version for a in plan.actions] == ["R__view"]
    assert plan.current == "2"  # a repeatable is never the current version


def test_an_unchanged_repeatable_is_left_alone(tmp_path):
    sets = _sets(tmp_path)
    assert _plan(sets, _applied(sets)).actions == []


def test_rolling_back_leaves_repeatables_as_they_are(tmp_path):
    sets = _sets(tmp_path)
    ledgers = _applied(sets)
    ledgers["postgres"]["2"] = LedgerEntry("2", "applied", sets[1].postgres.checksum)
    plan = _plan([s for s in sets if s.version != "2"], {"postgres": {k: v for k, v in ledgers["postgres"].items()
                                                                      if k != "2"}}, state="rolled_back", target="0")
    assert [a.version for a in plan.actions] == ["1"]

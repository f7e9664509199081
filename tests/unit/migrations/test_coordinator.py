"""Coordination across parts with in-memory fake executors (the real ones are tested against real servers)."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    DbopsError,
    IrreversibleMigration,
    MigrationFailed,
    ValidationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    PARTIAL,
    ROLLED_BACK,
    LedgerEntry,
    PartExecutor,
)
from tests.unit.migrations.fake_executor import FakeExecutor
from tests.unit.migrations.fake_executor import run_engine as _run
from tests.unit.migrations.fake_executor import write_tree as _tree


@pytest.fixture
def journal():
    return []


@pytest.fixture
def tree(tmp_path):
    return _tree(tmp_path, {"1_both": ("postgres", "mongodb"), "2_pg": ("postgres",),
                            "3_both": ("postgres", "mongodb")})


def _steps(journal, *calls):
    return [entry for entry in journal if entry[1] in calls]


def test_fakes_follow_the_protocol(journal):
    assert isinstance(FakeExecutor("postgres", journal), PartExecutor)


def test_apply_order_postgres_then_mongodb_then_both_validations(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    result = _run(tree, {"postgres": pg, "mongodb": mongo})
    assert result.applied == ["1", "2", "3"] and result.current == "3" and result.changed
    assert _steps(journal, "apply", "validate")[:4] == [
        ("postgres", "apply", "1"), ("mongodb", "apply", "1"), ("postgres", "validate", "1"),
        ("mongodb", "validate", "1")]
    assert result.sets[0]["parts"] == {"postgres": "applied", "mongodb": "applied"}
    assert pg.locked is False and ("postgres", "lock") in journal and ("mongodb", "lock") in journal
    assert _run(tree, {"postgres": pg, "mongodb": mongo}).changed is False


def test_mongodb_failure_compensates_the_postgres_part(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal, fail_apply={"3"})
    with pytest.raises(MigrationFailed) as err:
        _run(tree, {"postgres": pg, "mongodb": mongo})
    assert "mongodb apply failed" in str(err.value) and "postgres part compensated" in str(err.value)
    result = err.value.result
    assert result.applied == ["1", "2"] and result.failed == "3"
    assert result.sets[-1]["parts"] == {"postgres": "rolled_back", "mongodb": "failed"}
    assert pg.entries["3"].status == ROLLED_BACK
    assert _steps(journal, "apply", "rollback")[-3:] == [
        ("postgres", "apply", "3"), ("mongodb", "apply", "3"), ("postgres", "rollback", "3")]


def test_failed_validation_compensates_every_part_in_reverse_order(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal, fail_validate={"1"})
    with pytest.raises(ValidationFailed):
        _run(tree, {"postgres": pg, "mongodb": mongo})
    assert _steps(journal, "rollback") == [("mongodb", "rollback", "1"), ("postgres", "rollback", "1")]
    assert pg.entries["1"].status == ROLLED_BACK and mongo.entries["1"].status == ROLLED_BACK
    assert "2" not in pg.entries  # nothing after the failed set


def test_compensation_that_cannot_run_is_recorded_and_reported(tree, journal):
    pg = FakeExecutor("postgres", journal, irreversible={"1"})
    mongo = FakeExecutor("mongodb", journal, fail_apply={"1"})
    with pytest.raises(MigrationFailed) as err:
        _run(tree, {"postgres": pg, "mongodb": mongo})
    assert "postgres part could NOT be compensated" in str(err.value)
    assert pg.entries["1"].status == PARTIAL
    assert err.value.result.sets[0]["parts"]["postgres"] == "compensation_failed"


def test_half_applied_set_is_resumed(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    pg.entries["1"] = LedgerEntry("1", APPLIED, None)  # the runner died between the two parts
    result = _run(tree, {"postgres": pg, "mongodb": mongo})
    assert result.plan[0]["action"] == "resume" and result.plan[0]["parts"] == ["mongodb"]
    assert ("postgres", "apply", "1") not in journal and ("mongodb", "apply", "1") in journal
    assert ("postgres", "validate", "1") in journal
    assert result.applied == ["1", "2", "3"]


def test_half_applied_set_is_compensated_and_nothing_else_runs(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    pg.entries["1"] = LedgerEntry("1", APPLIED, None)
    result = _run(tree, {"postgres": pg, "mongodb": mongo}, on_partial="compensate")
    assert [p["action"] for p in result.plan] == ["compensate"]
    assert _steps(journal, "apply", "rollback") == [("postgres", "rollback", "1")]
    assert result.sets[0]["status"] == "compensated" and result.rolled_back == ["1"]
    assert result.pending == ["1", "2", "3"] and any("compensated" in w for w in result.warnings)


def test_partial_part_counts_as_half_applied(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    pg.entries["2"] = LedgerEntry("2", PARTIAL, None)
    pg.entries["1"] = LedgerEntry("1", APPLIED, None)
    mongo.entries["1"] = LedgerEntry("1", APPLIED, None)
    result = _run(tree, {"postgres": pg, "mongodb": mongo})
    assert result.plan[0]["version"] == "2" and result.plan[0]["action"] == "resume"


def test_rollback_undoes_mongodb_then_postgres_newest_set_first(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    _run(tree, {"postgres": pg, "mongodb": mongo})
    journal.clear()
    result = _run(tree, {"postgres": pg, "mongodb": mongo}, state="rolled_back", target="1")
    assert result.rolled_back == ["3", "2"] and result.current == "1"
    assert _steps(journal, "rollback") == [("mongodb", "rollback", "3"), ("postgres", "rollback", "3"),
                                           ("postgres", "rollback", "2")]


def test_irreversible_part_stops_rollback_before_anything(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal, irreversible={"1"})
    _run(tree, {"postgres": pg, "mongodb": mongo})
    journal.clear()
    with pytest.raises(IrreversibleMigration, match="mongodb part has no down"):
        _run(tree, {"postgres": pg, "mongodb": mongo}, state="rolled_back", target="0")
    assert _steps(journal, "rollback") == []


def test_set_with_a_mongodb_part_and_no_mongodb_connection_is_named(tree, journal):
    pg = FakeExecutor("postgres", journal)
    with pytest.raises(DbopsError) as err:
        _run(tree, {"postgres": pg})
    assert str(err.value).startswith("1 (") and "mongodb part but no mongodb connection" in str(err.value)
    assert _steps(journal, "apply") == []


def test_check_mode_takes_no_lock_and_applies_nothing(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    result = _run(tree, {"postgres": pg, "mongodb": mongo}, check_mode=True)
    assert result.changed and result.applied == ["1", "2", "3"] and result.after == "3"
    assert "postgres up 2" in result.queries
    assert _steps(journal, "lock", "apply", "validate") == []


def test_rollback_needs_a_target_and_a_known_one(tree, journal):
    executors = {"postgres": FakeExecutor("postgres", journal), "mongodb": FakeExecutor("mongodb", journal)}
    with pytest.raises(DbopsError, match="needs a target"):
        _run(tree, executors, state="rolled_back", target="latest")
    with pytest.raises(DbopsError, match="not a known version"):
        _run(tree, executors, state="rolled_back", target="7")


def test_request_is_validated():
    with pytest.raises(DbopsError, match="state must be"):
        engine.run(engine.RunRequest(migrations_dir="x", state="up", postgres_dsn="d"))
    with pytest.raises(DbopsError, match="nothing to connect to"):
        engine.run(engine.RunRequest(migrations_dir="x"))
    with pytest.raises(DbopsError, match=r"lock_timeout_ms .* must be a whole number from 1 to \d+, not 0"):
        engine.run(engine.RunRequest(migrations_dir="x", postgres_dsn="d", lock_timeout_ms=0))


def test_target_matching_keeps_dotted_versions_exact(tmp_path, journal):
    root = _tree(tmp_path, {"2024.001_a": ("postgres",), "2024.010_b": ("postgres",), "007_c": ("postgres",)})
    executors = {"postgres": FakeExecutor("postgres", journal), "mongodb": FakeExecutor("mongodb", journal)}
    with pytest.raises(DbopsError, match="quote it in YAML"):
        _run(root, executors, target="2024.01")  # what YAML makes of an unquoted 2024.010
    assert _run(root, executors, target="7", check_mode=True).applied == ["007"]


def test_applied_version_without_files_is_reported_and_blocks_rolling_past_it(tree, journal):
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    _run(tree, {"postgres": pg, "mongodb": mongo})
    pg.entries["9"] = LedgerEntry("9", APPLIED, "abc")
    status = _run(tree, {"postgres": pg, "mongodb": mongo}, state="status")
    assert status.current == "9" and any("9: applied according to the ledger" in w for w in status.warnings)
    with pytest.raises(IrreversibleMigration) as err:
        _run(tree, {"postgres": pg, "mongodb": mongo}, state="rolled_back", target="1")
    assert str(err.value).startswith("9: cannot roll back")
    assert _steps(journal, "rollback") == []

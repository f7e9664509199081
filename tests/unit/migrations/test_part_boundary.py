"""Any exception from an executor (a driver's, a bug's) is the engine's error, and the compensation still runs."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_boundary import (
    MAX_CAUSE_CHARS,
    describe_cause,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    PARTIAL,
    ROLLED_BACK,
    LedgerEntry,
)
from tests.unit.migrations.fake_executor import FakeExecutor, run_engine, write_tree


class AutoReconnect(Exception):  # noqa: N818 - named like pymongo's, which is what the test stands for
    """Stands for pymongo.errors.AutoReconnect: not a DbopsError, not known to the engine."""


class OperationalError(Exception):  # noqa: N818 - named like psycopg's
    pass


RAW_ERRORS = [AutoReconnect("db:27017: connection closed"), OperationalError("server closed the connection"),
              TypeError("'NoneType' object is not subscriptable"), KeyError("ops"), OSError(104, "reset by peer")]


@pytest.fixture
def journal():
    return []


@pytest.fixture
def both(tmp_path):
    return write_tree(tmp_path, {"1_both": ("postgres", "mongodb")})


def _steps(journal, *calls):
    return [entry for entry in journal if entry[1] in calls]


@pytest.mark.parametrize("raw", RAW_ERRORS, ids=lambda e: type(e).__name__)
def test_raw_error_applying_the_mongodb_part_compensates_the_postgres_part(both, journal, raw):
    pg = FakeExecutor("postgres", journal)
    mongo = FakeExecutor("mongodb", journal, explode={("apply", "1"): raw})
    with pytest.raises(MigrationFailed) as err:
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    message = str(err.value)
    assert message.startswith("1 (") and "the mongodb part failed while applying" in message
    assert f"{type(raw).__name__}: " in message and "postgres part compensated (rolled back)" in message
    assert err.value.version == "1" and isinstance(err.value.__cause__, DbopsError)
    assert err.value.__cause__.__cause__ is raw
    assert pg.entries["1"].status == ROLLED_BACK  # the PostgreSQL ledger records the compensation
    assert "compensated: the set failed" in pg.entries["1"].error and type(raw).__name__ in pg.entries["1"].error
    outcome = err.value.result.sets[0]
    assert outcome["status"] == "failed" and outcome["parts"] == {"postgres": "rolled_back", "mongodb": "failed"}
    assert err.value.result.failed == "1"


@pytest.mark.parametrize("part", ["postgres", "mongodb"])
def test_raw_error_in_a_validation_compensates_both_parts(both, journal, part):
    raw = OperationalError("terminating connection due to administrator command")
    executors = {name: FakeExecutor(name, journal, explode={("validate", "1"): raw} if name == part else None)
                 for name in ("postgres", "mongodb")}
    with pytest.raises(MigrationFailed, match=f"the {part} part failed while validating: OperationalError"):
        run_engine(both, executors)
    assert _steps(journal, "rollback") == [("mongodb", "rollback", "1"), ("postgres", "rollback", "1")]
    assert {name: ex.entries["1"].status for name, ex in executors.items()} == {"postgres": ROLLED_BACK,
                                                                                "mongodb": ROLLED_BACK}


def test_raw_error_in_the_compensation_itself_is_recorded_and_named(both, journal):
    pg = FakeExecutor("postgres", journal, explode={("rollback", "1"): OperationalError("connection lost")})
    mongo = FakeExecutor("mongodb", journal, explode={("apply", "1"): AutoReconnect("gone")})
    with pytest.raises(MigrationFailed) as err:
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    message = str(err.value)
    assert "AutoReconnect: gone" in message
    assert "postgres part could NOT be compensated" in message and "OperationalError: connection lost" in message
    assert pg.entries["1"].status == PARTIAL
    assert err.value.result.sets[0]["parts"]["postgres"] == "compensation_failed"


@pytest.mark.parametrize("step", ["ensure_reversible", "record_status"])
def test_raw_error_while_recording_the_compensation_still_reports_it(both, journal, step):
    explode = {(step, "1"): OperationalError("ledger unreachable")}
    pg = FakeExecutor("postgres", journal, explode=explode)
    mongo = FakeExecutor("mongodb", journal, fail_apply={"1"})
    with pytest.raises(MigrationFailed) as err:
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    assert "OperationalError: ledger unreachable" in str(err.value)
    if step == "record_status":  # rolled back, only the ledger row is missing: said so
        assert ("postgres", "rollback", "1") in journal and "recording the compensation failed" in str(err.value)


def test_raw_error_rolling_back_names_the_part_and_what_was_done(tmp_path, journal):
    tree = write_tree(tmp_path, {"1_both": ("postgres", "mongodb")})
    pg, mongo = FakeExecutor("postgres", journal), FakeExecutor("mongodb", journal)
    run_engine(tree, {"postgres": pg, "mongodb": mongo})
    pg.explode[("rollback", "1")] = OperationalError("server closed the connection unexpectedly")
    with pytest.raises(MigrationFailed) as err:
        run_engine(tree, {"postgres": pg, "mongodb": mongo}, state="rolled_back", target="0")
    assert "the postgres part failed while rolling back: OperationalError" in str(err.value)
    assert "already rolled back: mongodb" in str(err.value)
    assert err.value.result.sets[0]["parts"] == {"postgres": "failed", "mongodb": "rolled_back"}


@pytest.mark.parametrize("call", ["connect", "lock", "ledger"])
def test_raw_error_before_any_set_is_one_message_and_the_connection_is_closed(both, journal, call):
    pg = FakeExecutor("postgres", journal)
    mongo = FakeExecutor("mongodb", journal, explode={(call, None): AutoReconnect("no primary")})
    with pytest.raises(MigrationFailed, match=r"^mongodb: .* failed: AutoReconnect: no primary$"):
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    assert ("postgres", "close") in journal and _steps(journal, "apply") == []


def test_raw_error_while_planning_changes_nothing(both, journal):
    pg = FakeExecutor("postgres", journal, explode={("plan_apply", "1"): KeyError("x")})
    with pytest.raises(MigrationFailed, match="the postgres part failed while planning: KeyError"):
        run_engine(both, {"postgres": pg, "mongodb": FakeExecutor("mongodb", journal)})
    assert _steps(journal, "apply", "rollback") == []


def test_a_failing_close_or_unlock_does_not_hide_the_result(both, journal):
    pg = FakeExecutor("postgres", journal, explode={("close", None): OSError("bad fd"),
                                                    ("unlock", None): OSError("gone")})
    result = run_engine(both, {"postgres": pg, "mongodb": FakeExecutor("mongodb", journal)})
    assert result.applied == ["1"]


def test_rerun_after_a_raw_failure_applies_the_set(both, journal):
    pg = FakeExecutor("postgres", journal)
    mongo = FakeExecutor("mongodb", journal, explode={("apply", "1"): AutoReconnect("gone")})
    with pytest.raises(MigrationFailed):
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    mongo.explode.clear()
    result = run_engine(both, {"postgres": pg, "mongodb": mongo})
    assert result.applied == ["1"] and pg.entries["1"].status == APPLIED == mongo.entries["1"].status


def test_a_half_applied_set_resumed_with_a_raw_failure_is_compensated(both, journal):
    pg = FakeExecutor("postgres", journal)
    pg.entries["1"] = LedgerEntry("1", APPLIED, None)  # a runner died between the parts
    mongo = FakeExecutor("mongodb", journal, explode={("apply", "1"): AutoReconnect("gone")})
    with pytest.raises(MigrationFailed, match="postgres part compensated"):
        run_engine(both, {"postgres": pg, "mongodb": mongo})
    assert pg.entries["1"].status == ROLLED_BACK


def test_cause_is_redacted_and_short():
    raw = OperationalError("connection to postgresql://app:hunter2secret@db/x failed " + "x" * 2000)
    text = describe_cause(raw, known=("hunter2secret",))
    assert "hunter2secret" not in text and text.startswith("OperationalError: connection to postgresql://app:")
    assert len(text) < MAX_CAUSE_CHARS + 40 and text.endswith(" ...")
    assert describe_cause(ValueError("a\n  b")) == "ValueError: a b"  # one line

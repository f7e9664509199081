"""A whole release in one engine call (release_run), with in-memory fake executors: phases, approval, compensation."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    ApprovalRequired,
    ConnectionFailed,
    MigrationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.release_run import (
    ReleaseRun,
    ReleaseSettings,
)
from tests.unit.migrations.fake_executor import FakeExecutor
from tests.unit.migrations.fake_executor import write_tree as _tree


@pytest.fixture
def tree(tmp_path):
    return _tree(tmp_path, {"1_pg": ("postgres",), "2_pg": ("postgres",), "3_pg": ("postgres",)})


def _release(tree, executors, settings: ReleaseSettings | None = None, **request):
    return ReleaseRun(engine.RunRequest(migrations_dir=str(tree), postgres_dsn="fake", **request),
                      settings or ReleaseSettings(),
                      executors=executors)


def test_a_successful_release_reaches_the_apply_phase(tree):
    journal = []
    release = _release(tree, {"postgres": FakeExecutor("postgres", journal)})
    result = release.run()
    assert result.applied == ["1", "2", "3"]
    assert (release.record.phase, release.record.before, release.record.pending) == ("apply", "0", ["1", "2", "3"])


def test_a_refused_approval_changes_nothing(tree):
    journal = []
    release = _release(tree, {"postgres": FakeExecutor("postgres", journal)},
                       ReleaseSettings(refuse_changes="production requires an approval"))
    with pytest.raises(ApprovalRequired, match="production requires an approval .*would change 1, 2, 3"):
        release.run()
    assert release.record.phase == "approval"
    assert not [entry for entry in journal if entry[1] in ("apply", "record_status")]


def test_nothing_to_do_needs_no_approval(tree):
    journal = []
    executors = {"postgres": FakeExecutor("postgres", journal)}
    _release(tree, executors).run()
    again = _release(tree, executors, ReleaseSettings(refuse_changes="requires an approval"))
    assert again.run().changed is False


def test_a_failure_before_the_plan_is_the_precheck(tree):
    journal = []
    broken = FakeExecutor("postgres", journal, explode={("connect", None): ConnectionFailed("refused")})
    release = _release(tree, {"postgres": broken}, ReleaseSettings(rollback_on_failure=True))
    with pytest.raises(ConnectionFailed):
        release.run()
    assert release.record.phase == "precheck" and release.record.before is None
    assert release.record.compensation.performed is False and release.record.after_failure is None


def test_rollback_on_failure_returns_to_the_version_the_run_started_from(tree):
    journal = []
    executors = {"postgres": FakeExecutor("postgres", journal)}
    _release(tree, executors, target="1").run()
    executors["postgres"].fail_apply = {"3"}
    release = _release(tree, executors, ReleaseSettings(rollback_on_failure=True))
    with pytest.raises(MigrationFailed):
        release.run()
    record = release.record
    assert record.phase == "apply" and record.before == "1"
    assert record.compensation.performed is True and record.compensation.rolled_back == ["2"]
    assert record.after_failure == {"current": "1", "pending": ["2", "3"]}


def test_without_rollback_on_failure_the_ledgers_are_still_read_again(tree):
    journal = []
    executors = {"postgres": FakeExecutor("postgres", journal, fail_apply={"2"})}
    release = _release(tree, executors)
    with pytest.raises(MigrationFailed):
        release.run()
    assert release.record.compensation.performed is False
    assert release.record.after_failure == {"current": "1", "pending": ["2", "3"]}

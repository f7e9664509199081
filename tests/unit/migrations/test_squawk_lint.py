"""How squawk is invoked for the pending PostgreSQL parts, and which findings fail the run."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import LintFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.squawk_lint import (
    LintReport,
    LintSettings,
    lint,
    refuse_blocking,
    squawk_calls,
)

SOURCES = [
    {"version": "1", "path": "/m/1/postgres.up.sql", "sql": None, "transactional": True},
    {"version": "2", "path": "/m/2/postgres.up.sql", "sql": None, "transactional": False},
    {"version": "3", "path": "/m/3.sql", "sql": "CREATE TABLE t (id int);", "transactional": True},
    {"version": "4", "path": "/m/4/postgres.up.sql", "sql": None, "transactional": True},
]


def test_files_are_grouped_by_transaction_mode_and_dbmate_files_go_through_stdin():
    calls = squawk_calls(SOURCES, LintSettings(executable="sq", exclude=("require-lock-timeout",), pg_version="15"))
    common = ["sq", "--reporter", "json", "--exclude=require-lock-timeout", "--pg-version=15"]
    assert [(call.argv, call.stdin) for call in calls] == [
        ([*common, "--assume-in-transaction", "/m/1/postgres.up.sql", "/m/4/postgres.up.sql"], None),
        ([*common, "/m/2/postgres.up.sql"], None),
        ([*common, "--stdin-filepath", "/m/3.sql", "--assume-in-transaction"], "CREATE TABLE t (id int);"),
    ]


def test_only_findings_of_fail_on_rules_fail_the_run():
    report = LintReport([{"version": "2", "file": "/m/2/postgres.up.sql", "line": 0, "rule_name": "a",
                          "message": "m", "blocking": True},
                         {"version": "1", "file": "x", "line": 3, "rule_name": "b", "message": "n",
                          "blocking": False}])
    with pytest.raises(LintFailed, match=r"1 problem\(s\).*2 \(/m/2/postgres.up.sql:1\): a: m"):
        refuse_blocking(report)
    refuse_blocking(LintReport([report.findings[1]]))


def test_squawk_that_cannot_start_is_a_lint_failure():
    with pytest.raises(LintFailed, match="could not be started"):
        lint(SOURCES[:1], LintSettings(executable="/nonexistent/squawk"))

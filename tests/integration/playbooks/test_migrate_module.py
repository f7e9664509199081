"""The module sevenp.dbops.migrate run ad hoc (ansible -m), as a playbook task would run it."""

from __future__ import annotations

import pytest

from tests.support.ansible_cli import run_module

pytestmark = pytest.mark.slow


def test_diff_mode_shows_the_version_and_the_statements_of_each_set(dbops_vars):
    args = {"postgres_dsn": dbops_vars["dbops_postgres_dsn"], "migrations_dir": dbops_vars["dbops_migrations_dir"],
            "target": "2024.011"}

    planned = run_module("sevenp.dbops.migrate", args, "--check", "--diff")

    assert planned.returncode == 0, planned.output
    assert planned.result["changed"] is True
    # The callback prints the diff (before/after version) above the result, which it shows without it.
    assert '-    "version": "0"' in planned.stdout and '+    "version": "2024.011"' in planned.stdout
    assert planned.result["applied"] == ["2023.001", "2024.010", "2024.011"]
    # Then per planned set the statements it would run, as added lines under the set's own header.
    assert "+++ after: 2024.011 2024.011_course_duration_minutes (apply, expand)" in planned.stdout, planned.stdout
    assert "+CREATE SCHEMA auth;" in planned.stdout
    assert planned.stdout.index("2023.001_base_schemas (apply") < planned.stdout.index("2024.010_")
    assert "2024.012_" not in planned.stdout  # beyond the target: not planned
    assert planned.result["current"] == "0"  # check mode changed nothing

    applied = run_module("sevenp.dbops.migrate", args, "--diff")
    assert applied.returncode == 0, applied.output
    assert '-    "version": "0"' in applied.stdout and '+    "version": "2024.011"' in applied.stdout
    assert applied.result["current"] == "2024.011"

    again = run_module("sevenp.dbops.migrate", args, "--diff")
    assert again.result["changed"] is False
    assert (again.result["before"], again.result["after"]) == ("2024.011", "2024.011")
    assert '+    "version"' not in again.stdout  # nothing changed, no diff


def test_rolled_back_needs_a_target(dbops_vars):
    done = run_module("sevenp.dbops.migrate", {"postgres_dsn": dbops_vars["dbops_postgres_dsn"],
                                               "migrations_dir": dbops_vars["dbops_migrations_dir"],
                                               "state": "rolled_back"})
    assert done.returncode != 0
    assert "target" in done.result["msg"]

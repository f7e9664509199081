"""The module sevenp.dbops.read_only run through ansible, as a playbook task runs it."""

from __future__ import annotations

import pytest

from tests.integration.postgres.read_only.fence_setup import snapshot
from tests.support.ansible_cli import run_module

pytestmark = pytest.mark.slow


def test_enabled_check_mode_then_enabled_twice_then_disabled(fenced_app, state_file):
    before = snapshot(fenced_app)
    args = {"postgres_dsn": fenced_app.admin_dsn(), "exempt_roles": [fenced_app.ops], "state_file": str(state_file)}

    planned = run_module("sevenp.dbops.read_only", args, "--check")
    assert planned.returncode == 0, planned.output
    assert planned.result["changed"] is True and snapshot(fenced_app) == before

    engaged = run_module("sevenp.dbops.read_only", args)
    assert engaged.returncode == 0, engaged.output
    assert engaged.result["changed"] is True
    assert engaged.result["phases"] == {"postgres": "engaged"}
    assert any(p["role"] == fenced_app.app and p["kind"] == "write" and p["ok"] for p in engaged.result["probes"])
    assert "dbops-test-secret" not in engaged.output  # the DSN's password never shows

    again = run_module("sevenp.dbops.read_only", args)
    assert again.returncode == 0 and again.result["changed"] is False

    undone = run_module("sevenp.dbops.read_only", {**args, "state": "disabled"})
    assert undone.returncode == 0, undone.output
    assert undone.result["changed"] is True and snapshot(fenced_app) == before


def test_a_bad_exempt_role_fails_with_one_clear_message(fenced_app, state_file):
    done = run_module("sevenp.dbops.read_only", {
        "postgres_dsn": fenced_app.admin_dsn(), "state_file": str(state_file), "exempt_roles": ["no_such_role"]})
    assert done.returncode != 0
    assert "do not exist: no_such_role" in done.result["msg"]

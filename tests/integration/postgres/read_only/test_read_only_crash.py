"""kill -9 of the read-only engine between the record and the change, then a rerun: it completes, and the undo
restores exactly what was there before the first run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.integration.postgres.read_only.fence_setup import snapshot

pytestmark = pytest.mark.slow

RUNNER = Path(__file__).with_name("read_only_runner.py")


def run_engine(fields: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), json.dumps(fields), *extra], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("die_at", ["before-change", "after-grants"])
def test_a_rerun_after_kill_9_completes_and_the_undo_is_exact(fenced_app, state_file, die_at):
    before = snapshot(fenced_app)
    fields = {"databases": {"postgres_dsn": fenced_app.admin_dsn()}, "state_file": str(state_file),
              "exempt_roles": [fenced_app.ops]}

    crashed = run_engine(fields, "--die-at", die_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    recorded = json.loads(state_file.read_text())["databases"]["postgres"]
    assert recorded["phase"] == "planned" and recorded["previous"]["revoked"]
    half = snapshot(fenced_app)
    if die_at == "before-change":
        assert half == before
    else:  # the grants are gone, the server default not yet set
        assert half["table_acl"] != before["table_acl"] and half["file_settings"] == before["file_settings"]

    rerun = run_engine(fields)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["changed"] and result["phases"] == {"postgres": "engaged"}
    assert all(probe["ok"] for probe in result["probes"])
    # The previous values are those of before the first run, not of the half-changed server.
    assert result["previous"]["postgres"] == recorded["previous"]
    with psycopg.connect(fenced_app.dsn_as(fenced_app.app), autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")  # what the role setting alone cannot stop
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO items (note) VALUES ('after rerun')")

    undone = run_engine({**fields, "state": "disabled"})
    assert undone.returncode == 0, undone.stderr
    assert snapshot(fenced_app) == before

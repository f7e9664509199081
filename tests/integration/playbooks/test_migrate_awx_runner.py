"""AWX and AAP run playbooks through ansible-runner: migrate.yml must work there, with an artifacts directory."""

from __future__ import annotations

import sys

import ansible_runner
import pytest

from tests.support.ansible_cli import ROOT, ansible_env

pytestmark = pytest.mark.slow


def test_ansible_runner_runs_migrate_yml(dbops_vars, tmp_path):
    private_data_dir = tmp_path / "runner"
    (private_data_dir / "inventory").mkdir(parents=True)
    (private_data_dir / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    artifacts = tmp_path / "artifacts"
    env = ansible_env()

    run = ansible_runner.run(
        private_data_dir=str(private_data_dir),
        artifact_dir=str(artifacts),
        project_dir=str(ROOT),
        playbook=str(ROOT / "playbooks" / "migrate.yml"),
        extravars={**dbops_vars, "dbops_target": "localhost"},
        envvars={key: env[key] for key in ("ANSIBLE_CONFIG", "ANSIBLE_PYTHON_INTERPRETER", "PATH")},
        quiet=True,
        timeout=300,
    )

    stdout = run.stdout.read()
    assert run.status == "successful", stdout[-5000:]
    assert run.rc == 0
    ok_events = [event for event in run.events if event.get("event") == "runner_on_ok"]
    results = [event["event_data"]["res"] for event in ok_events
               if event["event_data"].get("task_action") == "sevenp.dbops.migrate"
               and "applied" in event["event_data"].get("res", {})]
    assert results[-1]["applied"] == ["2023.001", "2024.010", "2024.011", "2024.012", "2024.013"]
    job_dir = artifacts / run.config.ident
    assert (job_dir / "stdout").exists() and (job_dir / "rc").read_text().strip() == "0"
    assert any((job_dir / "job_events").iterdir())
    # The DSN's password is in extravars, which ansible-runner writes to env/extravars; no event may show it.
    password = dbops_vars["dbops_postgres_dsn"].split(":")[2].split("@")[0]
    events_text = "".join(path.read_text() for path in (job_dir / "job_events").iterdir())
    assert password not in events_text
    assert password not in stdout
    assert (job_dir / "status").read_text().strip() == "successful"

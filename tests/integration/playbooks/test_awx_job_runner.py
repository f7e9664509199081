"""The AWX workflow's first nodes as AWX runs them: ansible-runner on a private data directory laid out as AWX lays
it out, the connection only in the credential's injected environment, check then apply, artifacts handed on."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from tests.support.ansible_cli import BIN, ROOT

pytestmark = pytest.mark.slow


def credential_environment(dsn: str) -> dict[str, str]:
    """What the credential type of awx/credential_types.yml injects: its env injectors, rendered as AWX does
    (an empty field becomes an empty variable)."""
    data = yaml.safe_load((ROOT / "awx" / "credential_types.yml").read_text())
    injectors = data["controller_credential_types"][0]["injectors"]["env"]
    inputs = {"postgres_dsn": dsn}
    return {name: inputs.get(template.strip("{} "), "") for name, template in injectors.items()}


def survey_defaults(template_name: str) -> dict[str, str]:
    templates = yaml.safe_load((ROOT / "awx" / "job_templates.yml").read_text())["controller_templates"]
    template = next(item for item in templates if item["name"] == template_name)
    return {question["variable"]: question["default"] for question in template["survey_spec"]["spec"]
            if "default" in question}


def run_awx_job(job_dir: Path, playbook: str, extravars: dict, envvars: dict[str, str], check: bool):
    """One AWX job: project/ (the synced project), inventory/hosts, env/extravars (survey answers, template
    variables and the previous nodes' artifacts), env/envvars (the credential's injection), env/cmdline."""
    (job_dir / "inventory").mkdir(parents=True)
    (job_dir / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (job_dir / "project").symlink_to(ROOT)
    (job_dir / "env").mkdir()
    (job_dir / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (job_dir / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    if check:
        (job_dir / "env" / "cmdline").write_text("--check")
    return ansible_runner.run(private_data_dir=str(job_dir), playbook=playbook, quiet=True, timeout=300)


def events_on_disk(run) -> list[dict]:
    job_events = Path(run.config.artifact_dir) / "job_events"
    return [json.loads(path.read_text()) for path in sorted(job_events.iterdir())]


def artifacts(run) -> dict:
    """The set_stats data as AWX reads it: the playbook_on_stats event's artifact_data."""
    stats = [event for event in events_on_disk(run) if event.get("event") == "playbook_on_stats"]
    assert len(stats) == 1
    return stats[0]["event_data"]["artifact_data"]


def test_check_then_apply_through_ansible_runner_with_the_credential_environment(
        dbops_vars, tmp_path, monkeypatch):
    dsn = dbops_vars.pop("dbops_postgres_dsn")
    password = dsn.split(":")[2].split("@")[0]
    # ansible-runner starts ansible-playbook from PATH, as the execution environment has it.
    monkeypatch.setenv("PATH", str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    envvars = credential_environment(dsn)
    template_vars = {**dbops_vars, "dbops_target": "localhost", "dbops_require_approval": True}

    check = run_awx_job(tmp_path / "check", "playbooks/migrate.yml",
                        {**template_vars, **survey_defaults("dbops check")}, envvars, check=True)
    assert check.status == "successful", check.stdout.read()[-5000:]
    planned = artifacts(check)
    assert planned["dbops_artifact_operation"] == "apply" and planned["dbops_artifact_check_mode"] is True
    assert planned["dbops_artifact_version_before"] == "0"
    assert planned["dbops_artifact_version_after"] == "2024.013"
    assert planned["dbops_artifact_applied"] == ["2023.001", "2024.010", "2024.011", "2024.012", "2024.013"]
    assert planned["dbops_artifact_plan"] and planned["dbops_artifact_pending"] == planned["dbops_artifact_applied"]
    assert all(Path(path).is_file() for path in planned["dbops_artifact_report_paths"])

    # The approval node passed: the apply node gets the check's artifacts and its own extra_data.
    apply = run_awx_job(tmp_path / "apply", "playbooks/migrate.yml",
                        {**template_vars, **survey_defaults("dbops apply"), **planned, "dbops_approved": "true"},
                        envvars, check=False)
    assert apply.status == "successful", apply.stdout.read()[-5000:]
    assert apply.rc == 0
    applied = artifacts(apply)
    assert applied["dbops_artifact_check_mode"] is False
    assert applied["dbops_artifact_applied"] == planned["dbops_artifact_applied"]
    assert (applied["dbops_artifact_version_before"], applied["dbops_artifact_version_after"]) == ("0", "2024.013")
    assert applied["dbops_artifact_pending"] == []
    report = json.loads(Path(applied["dbops_artifact_report_paths"][0]).read_text())
    assert report["status"] == "succeeded" and report["approval"]["approved"] is True
    assert [path.endswith(".html") for path in applied["dbops_artifact_report_paths"]] == [False, True]
    assert all(Path(path).is_file() for path in applied["dbops_artifact_report_paths"])

    # The failure branch's node, planned only (check mode): another role taking the connection from the credential.
    read_only = run_awx_job(tmp_path / "read_only", "playbooks/emergency_read_only.yml",
                            {**template_vars, **survey_defaults("dbops emergency read-only"), **applied},
                            envvars, check=True)
    assert read_only.status == "successful", read_only.stdout.read()[-5000:]
    planned_read_only = artifacts(read_only)
    assert planned_read_only["dbops_artifact_operation"] == "read_only_enabled"
    assert planned_read_only["dbops_artifact_status"] == "planned"
    assert all(Path(path).is_file() for path in planned_read_only["dbops_artifact_report_paths"])

    for run in (check, apply, read_only):
        job_dir = Path(run.config.artifact_dir)
        assert (job_dir / "status").read_text().strip() == "successful"
        # The DSN was only in the environment: no event, no output and no extra var shows its password.
        assert password not in (job_dir / "stdout").read_text()
        assert password not in json.dumps(events_on_disk(run))
        assert password not in (Path(run.config.private_data_dir) / "env" / "extravars").read_text()

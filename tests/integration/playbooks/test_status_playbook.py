"""playbooks/status.yml: one read-only look at ledgers, repository and read-only mode, exported as metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ansible_cli import run_playbook

pytestmark = pytest.mark.slow


def test_status_reports_the_estate_and_exports_metrics_idempotently(dbops_vars, tmp_path):
    metrics_dir = tmp_path / "textfile"
    applied = run_playbook("migrate.yml", {**dbops_vars, "dbops_metrics_dir": str(metrics_dir)}, tmp_path)
    assert applied.returncode == 0, applied.explain()
    status_vars = {**dbops_vars, "dbops_repository": str(tmp_path / "repository"),
                   "dbops_metrics_dir": str(metrics_dir)}
    (tmp_path / "repository").mkdir()

    first = run_playbook("status.yml", status_vars, tmp_path)
    assert first.returncode == 0, first.explain()
    assert "migrations: at 2024.013; pending: none" in first.stdout
    assert "backups: 0 in the catalog (none yet)" in first.stdout
    assert "read-only mode: not engaged" in first.stdout
    text = (metrics_dir / "sevenp_dbops.prom").read_text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    pg = (("database", "postgres"), ("environment", "test"))
    assert samples[("sevenp_dbops_migration_version_info", (*pg, ("version", "2024.013")))] == 1
    assert samples[("sevenp_dbops_migration_sets", (*pg, ("state", "applied")))] == 5
    assert samples[("sevenp_dbops_read_only", pg)] == 0
    # Written by the migrate run, kept by the status run.
    assert samples[("sevenp_dbops_migration_last_run_success", pg)] == 1
    assert ("sevenp_dbops_wal_archive_failing", (("environment", "test"),)) in samples

    again = run_playbook("status.yml", status_vars, tmp_path)
    assert again.returncode == 0 and again.recap()["changed"] == 0, again.explain()
    checked = run_playbook("status.yml", status_vars, tmp_path, "--check")
    assert checked.returncode == 0 and checked.recap()["changed"] == 0, checked.explain()
    assert (metrics_dir / "sevenp_dbops.prom").read_text() == text

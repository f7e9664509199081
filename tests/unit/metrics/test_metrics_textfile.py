"""The metrics textfile: what node_exporter would read, checked with Prometheus' own parser."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.metrics_update import (
    MetricsRequest,
    update_metrics,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.exposition import parse, render
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.family import MetricsError, gauge

RAN = [
    {"version": "2024.001", "action": "apply", "status": "applied", "duration_ms": 1500,
     "parts": {"postgres": "applied", "mongodb": "applied"}},
    {"version": "2024.002", "action": "apply", "status": "applied", "duration_ms": 500,
     "parts": {"postgres": "applied"}},
]
LEDGER = [*RAN, {"version": "2024.003", "action": "status", "status": "pending", "duration_ms": 0,
                 "parts": {"postgres": "pending"}}]
# A run's own sets, and the whole ledger as the migrate role passes it along.
MIGRATE_RUN = {"phase": "apply", "sets": RAN, "ledger": {"sets": LEDGER}}
MIGRATE_STATUS = {"phase": "status", "sets": LEDGER}
BACKUP_INFO = {
    "catalog": {
        "backups": [
            {"backup_id": "a", "engine": "postgres", "kind": "base", "finished_at": "2026-12-01T10:00:00Z",
             "size_bytes": 100},
            {"backup_id": "b", "engine": "postgres", "kind": "base", "finished_at": "2026-12-02T10:00:00Z",
             "size_bytes": 250},
            {"backup_id": "c", "engine": "mongodb", "kind": "dump", "finished_at": "2026-12-02T11:00:00Z",
             "size_bytes": 42},
        ],
        "recovery_points": [{"name": "before-release", "created_at": "2026-12-02T12:00:00Z"}],
    },
    "archiver": {"failing": False, "last_archived_time": "2026-12-02T12:30:00Z"},
    "wal_chain": {"ok": True, "segments_behind": 1, "missing_count": 0},
    "mongodb_capture": {"database": "shop", "end_wall": "2026-12-02T12:31:00Z", "gaps": []},
}


def at(hour: int) -> float:
    return datetime(2026, 12, 2, hour, tzinfo=UTC).timestamp()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_a_migrate_run_and_a_catalog_become_gauges_prometheus_parses(tmp_path):
    update_metrics(MetricsRequest(str(tmp_path), environment="prod", migrations=MIGRATE_RUN))
    update_metrics(MetricsRequest(str(tmp_path), environment="prod", backups=BACKUP_INFO))
    got = samples((tmp_path / "sevenp_dbops.prom").read_text())

    pg = (("database", "postgres"), ("environment", "prod"))
    assert got[("sevenp_dbops_migration_version_info", (*pg, ("version", "2024.002")))] == 1
    assert got[("sevenp_dbops_migration_sets", (*pg, ("state", "pending")))] == 1
    assert got[("sevenp_dbops_migration_last_run_success", pg)] == 1
    assert got[("sevenp_dbops_migration_last_run_duration_seconds", pg)] == 2.0
    assert got[("sevenp_dbops_migration_last_run_duration_seconds",
                (("database", "mongodb"), ("environment", "prod")))] == 1.5
    base = (("engine", "postgres"), ("environment", "prod"), ("kind", "base"))
    assert got[("sevenp_dbops_backup_last_size_bytes", base)] == 250  # the newest, not the largest or first
    assert got[("sevenp_dbops_backup_last_timestamp_seconds", base)] == at(10)
    assert got[("sevenp_dbops_backups", base)] == 2
    assert got[("sevenp_dbops_recovery_point_last_timestamp_seconds", (("environment", "prod"),))] == at(12)
    assert got[("sevenp_dbops_wal_archive_segments_behind", (("environment", "prod"),))] == 1
    assert got[("sevenp_dbops_wal_archive_failing", (("environment", "prod"),))] == 0
    assert got[("sevenp_dbops_change_capture_gaps", (("database", "shop"), ("environment", "prod")))] == 0
    # The backup run kept the migration families the earlier run wrote.
    assert ("sevenp_dbops_migration_last_run_success", pg) in got


def test_the_same_state_gives_the_same_file_and_no_change(tmp_path):
    first = update_metrics(MetricsRequest(str(tmp_path), backups=BACKUP_INFO))
    again = update_metrics(MetricsRequest(str(tmp_path), backups=BACKUP_INFO))
    assert first.changed and first.written
    assert not again.changed and not again.written
    update_metrics(MetricsRequest(str(tmp_path), migrations=MIGRATE_STATUS))
    assert not update_metrics(MetricsRequest(str(tmp_path), migrations=MIGRATE_STATUS)).changed


def test_check_mode_computes_and_writes_nothing(tmp_path):
    planned = update_metrics(MetricsRequest(str(tmp_path), backups=BACKUP_INFO, check_mode=True))
    assert planned.changed and not planned.written
    assert not (tmp_path / "sevenp_dbops.prom").exists()
    assert any(line.startswith("+sevenp_dbops_backups{") for line in planned.diff_lines)


def test_a_status_keeps_the_last_runs_outcome_and_a_failed_run_records_it(tmp_path):
    update_metrics(MetricsRequest(str(tmp_path), migrations={**MIGRATE_RUN, "failed": True}))
    update_metrics(MetricsRequest(str(tmp_path), migrations=MIGRATE_STATUS))
    got = samples((tmp_path / "sevenp_dbops.prom").read_text())
    assert got[("sevenp_dbops_migration_last_run_success", (("database", "postgres"),))] == 0


def test_a_partial_run_keeps_the_other_samples(tmp_path):
    update_metrics(MetricsRequest(str(tmp_path), migrations=MIGRATE_RUN, backups=BACKUP_INFO))
    postgres_only = {"phase": "apply", "failed": True, "sets": [RAN[1]]}
    logical = {"backups": [{"engine": "postgres", "kind": "logical", "finished_at": "2026-12-02T13:00:00Z",
                            "size_bytes": 7}]}
    update_metrics(MetricsRequest(str(tmp_path), migrations=postgres_only, backups=logical))
    got = samples((tmp_path / "sevenp_dbops.prom").read_text())
    assert got[("sevenp_dbops_migration_last_run_success", (("database", "postgres"),))] == 0
    assert got[("sevenp_dbops_migration_last_run_success", (("database", "mongodb"),))] == 1
    assert got[("sevenp_dbops_backup_last_size_bytes", (("engine", "postgres"), ("kind", "logical")))] == 7
    assert got[("sevenp_dbops_backup_last_size_bytes", (("engine", "postgres"), ("kind", "base")))] == 250
    assert got[("sevenp_dbops_backups", (("engine", "postgres"), ("kind", "base")))] == 2  # a run's are not counted


def test_read_only_is_one_while_engaged(tmp_path):
    update_metrics(MetricsRequest(str(tmp_path), read_only={"phases": {"postgres": "engaged", "mongodb": "engaged"}}))
    update_metrics(MetricsRequest(str(tmp_path), read_only={"phases": {}, "previous": {"postgres": {}}}))
    got = samples((tmp_path / "sevenp_dbops.prom").read_text())
    assert got[("sevenp_dbops_read_only", (("database", "postgres"),))] == 0
    # mongodb was not part of the second run: a stale "engaged" must not stay behind.
    assert ("sevenp_dbops_read_only", (("database", "mongodb"),)) not in got


def test_the_file_is_replaced_atomically_and_concurrent_updates_are_not_lost(tmp_path):
    def writer(index: int) -> None:
        update_metrics(MetricsRequest(str(tmp_path), replication={"databases": {f"db{index}": {"lag_bytes": index}}}))
        update_metrics(MetricsRequest(str(tmp_path), recovery_point={"time": "2026-12-02T12:00:00Z"}))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
    text = (tmp_path / "sevenp_dbops.prom").read_text()
    samples(text)  # parses
    assert oct((tmp_path / "sevenp_dbops.prom").stat().st_mode & 0o777) == "0o644"


def test_labels_with_quotes_and_newlines_survive_a_round_trip():
    family = gauge("migration_version_info", 'help with \\ and "quotes"').add(1, version='a"b\\c\nd')
    text = render([family])
    (parsed,) = parse(text)
    assert parsed.samples == family.samples
    (sample,) = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert sample.labels == {"version": 'a"b\\c\nd'}


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(MetricsError, match="does not exist"):
        update_metrics(MetricsRequest(str(tmp_path / "missing"), backups=BACKUP_INFO))
    with pytest.raises(MetricsError, match="must be a plain name ending in .prom"):
        update_metrics(MetricsRequest(str(tmp_path), file_name="x.txt", backups=BACKUP_INFO))
    with pytest.raises(MetricsError, match="no result to export"):
        update_metrics(MetricsRequest(str(tmp_path)))
    created = update_metrics(MetricsRequest(str(tmp_path / "new"), backups=BACKUP_INFO, create_dir=True))
    assert created.written

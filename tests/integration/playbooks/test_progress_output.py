"""Long work prints its progress while it runs: a backfill (migrate.yml) and a cutover's sync (replication_sync),
each run as an asynchronous job polled from the controller together with the work's own progress records."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.support.ansible_cli import run_module, run_playbook
from tests.support.pg_cluster import new_cluster
from tests.support.pg_migrations import query, write_set

pytestmark = pytest.mark.slow


def test_a_long_backfill_prints_its_progress_while_it_runs(pg_db, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    # ANALYZE: the progress' total is the table's estimated row count, as a poller can afford to read it.
    write_set(migrations, "1_items", up="CREATE TABLE items (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0);\n"
              "INSERT INTO items (id) SELECT g FROM generate_series(1, 6000) g;\nANALYZE items;\n",
              down="DROP TABLE items;")
    write_set(migrations, "2_count", up="ALTER TABLE items ADD COLUMN touched boolean;",
              down="ALTER TABLE items DROP COLUMN touched;",
              manifest={"description": "touch every row", "backfill": [{
                  "name": "touch", "table": "items", "key": "id", "set": "touched = true, counter = counter + 1",
                  "batch_size": 50, "pause_ms": 60}]})
    variables = {"dbops_postgres_dsn": pg_db, "dbops_migrations_dir": str(migrations), "dbops_environment": "test",
                 "dbops_lint_enabled": False, "dbops_progress_interval": 1}

    run = run_playbook("migrate.yml", variables, tmp_path)

    assert run.returncode == 0, run.explain()
    assert run.report["applied"] == ["1", "2"]
    lines = [line for line in run.stdout.splitlines() if "| progress | backfill 2 touch (items):" in line]
    assert len(lines) >= 2, run.stdout[-4000:]
    running = [line for line in lines if "ETA 0:" in line and "rows/s" in line]
    assert running, lines
    assert re.search(r"\b\d{1,2}% [\d,]+ rows of ~6,000 rows", running[0]), running[0]
    assert lines[-1].endswith("100% 6,000 rows of ~6,000 rows done"), lines
    assert query(pg_db, "SELECT count(*) FROM items WHERE counter = 1 AND touched")[0][0] == 6000


def test_a_sync_that_does_not_catch_up_prints_how_far_behind_it_is(tmp_path):
    cluster = new_cluster(extra_conf={"wal_level": "logical", "max_replication_slots": "4"})
    try:
        dsn = cluster.dsn()
        with psycopg.connect(dsn, autocommit=True) as conn:
            # A slot no subscriber reads: it stays behind, as green's would while green is down.
            conn.execute("SELECT pg_create_logical_replication_slot('dbops_cutover_blue_to_green', 'pgoutput')")
            conn.execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g")
        args = {"postgres_dsn": dsn, "kind": "logical", "replica_name": "dbops_cutover_blue_to_green",
                "max_lag_bytes": 1024, "timeout": 4, "progress_interval": 1}

        waited = run_module("sevenp.dbops.replication_sync", args)
        plain = run_module("sevenp.dbops.replication_sync", {**args, "timeout": 1, "progress_interval": 0})
    finally:
        cluster.destroy()

    # Without progress_interval the module runs as one plain execution: the same failure, no progress.
    assert plain.returncode != 0 and plain.result["error_type"] == "ReplicationTimeout", plain.output
    assert "| progress |" not in plain.stdout and "progress" not in plain.result

    assert waited.returncode != 0, waited.output
    marker = "| progress | replication dbops_cutover_blue_to_green"
    lines = [line for line in waited.stdout.splitlines() if marker in line]
    assert lines and " MiB behind" in lines[0], waited.stdout[-3000:]
    # The job's own failure is the task's: the wait timed out, with the last lag it read.
    assert "localhost | FAILED!" in waited.stdout and waited.result["error_type"] == "ReplicationTimeout", waited.result
    assert waited.result["lag_bytes"] > 1_000_000 and waited.result["progress"][0]["remaining"] > 1_000_000
    assert "ansible_job_id" not in waited.result

"""Batched backfills: killed with kill -9 mid-way and rerun, every row is migrated exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.pg_migrations import ledger, query, run, write_set

ROOT = Path(__file__).resolve().parents[4]

RUNNER = """
import json, sys
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
request = engine.RunRequest(**json.loads(sys.argv[1]))
engine.run(request)
"""


def _backfill_sets(migrations, rows):
    write_set(migrations, "1_items", up=f"""
        CREATE TABLE items (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0, label text);
        INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, {rows}) g;
        """, down="DROP TABLE items;")
    write_set(migrations, "2_count", up="ALTER TABLE items ADD COLUMN touched boolean;",
              down="ALTER TABLE items DROP COLUMN touched;",
              verify="SELECT id FROM items WHERE counter <> 1 OR touched IS NOT TRUE",
              manifest={"description": "count every row once", "backfill": [{
                  "name": "count", "table": "items", "key": "id", "set": "counter = counter + 1, touched = true",
                  "where": "touched IS NULL OR touched", "batch_size": 25, "pause_ms": 15}]})


def test_backfill_killed_with_sigkill_resumes_and_migrates_every_row_once(pg_db, migrations):
    rows = 3000
    _backfill_sets(migrations, rows)
    run(pg_db, migrations, target="1")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "build"), str(ROOT)]))
    request = {"migrations_dir": str(migrations), "postgres_dsn": pg_db, "runner_lock_wait_s": 10}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(request)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        batches = 0
        while time.monotonic() < deadline and proc.poll() is None:
            found = query(pg_db, "SELECT batches FROM dbops.backfill_progress WHERE version = '2'") \
                if query(pg_db, "SELECT to_regclass('dbops.backfill_progress')")[0][0] else []
            batches = found[0][0] if found else 0
            if batches >= 10:
                break
            time.sleep(0.01)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    done_at_kill = query(pg_db, "SELECT batches, rows_done, status FROM dbops.backfill_progress")[0]
    assert 10 <= done_at_kill[0] < rows / 25 and done_at_kill[2] == "running"
    assert ledger(pg_db)["2"][0] == "running"
    # Rows are either done (counter 1) or not yet (counter 0): never twice.
    assert {r[0] for r in query(pg_db, "SELECT DISTINCT counter FROM items")} <= {0, 1}

    result = run(pg_db, migrations, runner_lock_wait_s=20)
    assert result.applied == ["2"]
    assert query(pg_db, "SELECT counter, count(*) FROM items GROUP BY counter") == [(1, rows)]
    assert query(pg_db, "SELECT rows_done, status FROM dbops.backfill_progress") == [(rows, "done")]
    assert ledger(pg_db)["2"] == ("applied", None)
    note = query(pg_db, "SELECT statement FROM dbops.migration_log WHERE version = '2' AND direction = 'backfill'")
    assert "resumed after key" in note[-1][0]


def test_backfill_batch_size_override_and_rollback_forgets_progress(pg_db, migrations):
    _backfill_sets(migrations, 100)
    result = run(pg_db, migrations, batch_size=7)
    assert result.applied == ["1", "2"]
    assert query(pg_db, "SELECT batches, rows_done FROM dbops.backfill_progress") == [(15, 100)]
    run(pg_db, migrations, state="rolled_back", target="1")
    assert query(pg_db, "SELECT count(*) FROM dbops.backfill_progress") == [(0,)]
    query(pg_db, "UPDATE items SET counter = 0")
    assert run(pg_db, migrations).applied == ["2"]
    assert query(pg_db, "SELECT counter, count(*) FROM items GROUP BY counter") == [(1, 100)]


def test_backfill_with_a_composite_key_and_percent_signs(pg_db, migrations):
    write_set(migrations, "1_pairs", up="""
        CREATE TABLE pairs (tenant int, id int, label text, PRIMARY KEY (tenant, id));
        INSERT INTO pairs SELECT t, i, CASE WHEN i % 5 = 0 THEN 'x% done' END
        FROM generate_series(1, 4) t, generate_series(1, 30) i;
        """, down="DROP TABLE pairs;")
    write_set(migrations, "2_label", up="SELECT 1;", down="SELECT 1;",
              verify="SELECT 1 FROM pairs WHERE label NOT LIKE 'x%' GROUP BY () HAVING count(*) > 0",
              manifest={"backfill": {"table": "public.pairs", "key": ["tenant", "id"],
                                     "set": "label = 'x% ' || (id % 7)::text",
                                     "where": "label IS NULL OR label NOT LIKE 'x%'", "batch_size": 11}})
    assert run(pg_db, migrations).applied == ["1", "2"]
    assert query(pg_db, "SELECT count(*) FROM pairs WHERE label LIKE 'x% done'") == [(24,)]
    # Batches are bounded by key alone, so the checkpoint ends at the table's last key, (4, 30), even though
    # that row did not need the backfill.
    assert query(pg_db, "SELECT rows_done, last_key FROM dbops.backfill_progress") == [(96, ["4", "30"])]

"""Seeing what happens: `--check --diff` of WAL archiving shows the configuration lines it would change, and
status shows the blue-green cutover's state."""

from __future__ import annotations

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import CutoverState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import (
    CREATE_TABLE,
    mongodb_copy,
    postgres_copy,
)
from tests.support.ansible_cli import run_module, run_playbook

pytestmark = pytest.mark.slow


def test_wal_archiving_check_diff_shows_the_configuration_lines_it_would_change(pg_cluster):
    args = {"postgres_dsn": pg_cluster.dsn(), "state": "enabled", "archive_command": "/bin/true %p",
            "archive_timeout": "60"}
    before = pg_cluster.psql("SHOW archive_command").strip()

    planned = run_module("sevenp.dbops.wal_archiving", args, "--check", "--diff")

    assert planned.returncode == 0, planned.output
    assert planned.result["changed"] is True and planned.result["restart_needed"] is True
    assert planned.result["planned"] == {"archive_mode": "on", "archive_command": "/bin/true %p",
                                         "archive_timeout": "60"}
    # The diff is the postgresql.auto.conf lines: the ones in force removed, the ones the run would write added.
    assert "+archive_command = '/bin/true %p'" in planned.stdout, planned.stdout
    assert "-archive_mode = 'off'" in planned.stdout and "+archive_mode = 'on'" in planned.stdout
    assert "+archive_timeout = '60'" in planned.stdout
    assert pg_cluster.psql("SHOW archive_command").strip() == before  # check mode wrote nothing
    assert pg_cluster.psql("SHOW archive_mode").strip() == "off"


def test_status_shows_the_cutover_state_recorded_on_both_databases(pg_db, mongo_server, tmp_path):
    # Written by the cutover's own state store, as a switch to green leaves it: PostgreSQL holds an older
    # generation than MongoDB (a write that reached one copy only); the newest one is what status shows.
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(CREATE_TABLE)
        postgres_copy("green", conn).write(CutoverState(name="default", generation=7, active="blue",
                                                        phase="switching", step="pause", step_status="intent"))
    client = pymongo.MongoClient(mongo_server)
    try:
        mongodb_copy("green", client).write(CutoverState(
            name="default", generation=8, active="green", phase="switched", direction="to_green", step="resume",
            step_status="done", positions={"fence_lsn": "0/3000148", "fence_cluster_time": {"t": 1795607061, "i": 3}}))
        variables = {"dbops_postgres_dsn": pg_db, "dbops_mongodb_uri": mongo_server, "dbops_mongodb_database": "app",
                     "dbops_environment": "test", "dbops_metrics_dir": ""}

        run = run_playbook("status.yml", variables, tmp_path, "--check")
    finally:
        client["dbops"]["cutover_state"].drop()
        client.close()

    assert run.returncode == 0, run.explain()
    assert ("cutover default: green active, switched, to green; step resume done; recorded " in run.stdout), \
        run.stdout[-3000:]
    assert "(generation 8, in mongodb)" in run.stdout
    assert "fence_lsn: 0/3000148" in run.stdout
    assert "fence_cluster_time: 1795607061.3 (2026-11-25T11:44:21Z)" in run.stdout
    assert "INTERRUPTED" not in run.stdout and "Timestamp(" not in run.stdout


def test_status_says_when_no_cutover_was_recorded(pg_db, tmp_path):
    run = run_playbook("status.yml", {"dbops_postgres_dsn": pg_db, "dbops_metrics_dir": ""}, tmp_path)
    assert run.returncode == 0, run.explain()
    assert "cutover: none recorded" in run.stdout
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT to_regclass('dbops.cutover_state')").fetchone()[0] is None  # created nothing

"""playbooks/emergency_read_only.yml end to end with ansible-playbook, against a real PostgreSQL 15 and an
authenticated SecantusDB: a running migrate is stopped and resumable, the application's writes are refused while
reads work, and -e dbops_read_only=disabled puts everything back exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pymongo
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.postgres.read_only.fence_setup import FencedApp, snapshot
from tests.support.ansible_cli import run_playbook
from tests.support.mongo_server import AuthenticatedMongo
from tests.support.read_only_shop import APP_PW, DB, mongo_roles
from tests.support.sample_sets import add_set

pytestmark = pytest.mark.slow

ENGINE_RUNNER = Path(__file__).parents[2] / "support" / "engine_runner.py"
SLOW_SET = "2030.001_slow"
# Non-transactional, so the cancelled statement leaves the set part-way through, as a crash would; the sleep
# reads its length from a table so that the rerun does not sleep (the file, and so its checksum, is unchanged).
SLOW_UP = """CREATE TABLE IF NOT EXISTS stop_probe (id int);
SELECT pg_sleep((SELECT seconds FROM stop_control));
INSERT INTO stop_probe VALUES (1);
"""
SLOW_MANIFEST = "postgres:\n  transaction: false\n"


def start_slow_migrate(dsn: str, migrations: Path) -> subprocess.Popen:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS stop_control (seconds float)")
        conn.execute("DELETE FROM stop_control")
        conn.execute("INSERT INTO stop_control VALUES (60)")
    add_set(migrations, SLOW_SET, up=SLOW_UP, down="DROP TABLE IF EXISTS stop_probe;\n", manifest=SLOW_MANIFEST)
    request = json.dumps({"migrations_dir": str(migrations), "postgres_dsn": dsn})
    runner = subprocess.Popen([sys.executable, str(ENGINE_RUNNER), request], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep((SELECT%%' "
                               "AND state = 'active'").fetchone()[0]:
            assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
            time.sleep(0.1)
    return runner


def set_status(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT status FROM dbops.schema_migrations WHERE version = '2030.001'").fetchone()
    return row[0] if row else None


def pg_write_refused(app: FencedApp) -> bool:
    try:
        with psycopg.connect(app.dsn_as(app.app), autocommit=True, connect_timeout=5) as conn:
            conn.execute("INSERT INTO items (note) VALUES ('probe')")
    except psycopg.Error:
        return True
    return False


def pg_read(app: FencedApp) -> int:
    with psycopg.connect(app.dsn_as(app.app), autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def mongo_write_refused(shop_mongo: AuthenticatedMongo) -> bool:
    try:
        with pymongo.MongoClient(shop_mongo.uri_for("app", APP_PW, DB), serverSelectionTimeoutMS=3000) as client:
            client[DB].orders.insert_one({"probe": True})
    except pymongo.errors.PyMongoError:
        return True
    return False


def mongo_read(shop_mongo: AuthenticatedMongo) -> int:
    with pymongo.MongoClient(shop_mongo.uri_for("app", APP_PW, DB), serverSelectionTimeoutMS=3000) as client:
        return client[DB].orders.count_documents({})


def read_only_metric(tmp_path) -> dict[str, float]:
    """sevenp_dbops_read_only per database, as Prometheus reads the metrics file the role wrote."""
    text = (tmp_path / "textfile" / "sevenp_dbops.prom").read_text()
    return {sample.labels["database"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "sevenp_dbops_read_only"}


def test_stops_the_migration_fences_both_databases_and_undoes_exactly(fenced_app, shop_mongo, tmp_path):
    dsn = fenced_app.admin_dsn()
    variables = {
        "dbops_postgres_dsn": dsn, "dbops_mongodb_uri": shop_mongo.admin_uri, "dbops_mongodb_database": DB,
        "dbops_read_only_exempt_roles": [fenced_app.ops, "ops"],
        "dbops_read_only_state_file": str(tmp_path / "read_only.json"),
        "dbops_migration_stop_grace_period": 5, "dbops_report_dir": str(tmp_path / "reports"),
        "dbops_environment": "test", "dbops_metrics_dir": str(tmp_path / "textfile"),
    }
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    runner = start_slow_migrate(dsn, migrations)
    # Taken once the migrate runs: its ledger schema and its first table are not the mode's to undo.
    pg_before, mongo_before = snapshot(fenced_app), mongo_roles(shop_mongo)
    try:
        # Check mode: the running migrate is found and left alone, and nothing is fenced.
        planned = run_playbook("emergency_read_only.yml", variables, tmp_path, "--check")
        assert planned.returncode == 0, planned.explain()
        assert planned.report["status"] == "planned"
        assert [s["stopped_by"] for s in planned.report["migrations_stopped"]["postgres"]] == [""]
        assert runner.poll() is None
        assert (snapshot(fenced_app), mongo_roles(shop_mongo)) == (pg_before, mongo_before)
        assert not pg_write_refused(fenced_app)

        engaged = run_playbook("emergency_read_only.yml", variables, tmp_path)
        assert engaged.returncode == 0, engaged.explain()
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    report = engaged.report
    assert report["status"] == "enabled"
    stopped = report["migrations_stopped"]["postgres"]
    assert len(stopped) == 1 and stopped[0]["stopped_by"] in ("cancel", "terminate")
    assert report["migrations_stopped"]["mongodb"] is None
    assert report["migrations_stopped"]["other_sessions"] == 0
    assert report["phases"] == {"postgres": "engaged", "mongodb": "engaged"}
    assert report["probes"] and all(probe_passed(probe) for probe in report["probes"])
    assert {probe["database"] for probe in report["probes"]} == {"postgres", "mongodb"}
    assert set_status(dsn) in ("partial", "failed")
    assert mongo_password_absent(engaged.output, shop_mongo)
    # The application reads but cannot write, on both databases.
    assert pg_write_refused(fenced_app) and pg_read(fenced_app) >= 0
    assert mongo_write_refused(shop_mongo) and mongo_read(shop_mongo) >= 1
    assert read_only_metric(tmp_path) == {"postgres": 1, "mongodb": 1}

    again = run_playbook("emergency_read_only.yml", variables, tmp_path)
    assert again.returncode == 0, again.explain()
    assert again.report["changed"] is False

    lifted = run_playbook("emergency_read_only.yml", {**variables, "dbops_read_only": "disabled"}, tmp_path)
    assert lifted.returncode == 0, lifted.explain()
    assert lifted.report["status"] == "disabled" and lifted.report["phases"] == {}
    assert not pg_write_refused(fenced_app)
    assert not mongo_write_refused(shop_mongo)
    assert read_only_metric(tmp_path) == {"postgres": 0, "mongodb": 0}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM items WHERE note = 'probe'")
    with pymongo.MongoClient(shop_mongo.admin_uri) as client:
        client[DB].orders.delete_many({"probe": True})
    assert (snapshot(fenced_app), mongo_roles(shop_mongo)) == (pg_before, mongo_before)

    # The stopped set is resumed by the next migrate run.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE stop_control SET seconds = 0")
    rerun = subprocess.run([sys.executable, str(ENGINE_RUNNER),
                            json.dumps({"migrations_dir": str(migrations), "postgres_dsn": dsn})],
                           capture_output=True, text=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert set_status(dsn) == "applied"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM stop_probe").fetchone()[0] == 1
        conn.execute("DROP TABLE stop_probe, stop_control")


def probe_passed(probe: dict) -> bool:
    """PostgreSQL probes say ok; MongoDB ones say write_refused and read_ok."""
    return bool(probe["ok"]) if "ok" in probe else bool(probe["write_refused"] and probe["read_ok"])


def mongo_password_absent(output: str, shop_mongo: AuthenticatedMongo) -> bool:
    return shop_mongo.admin_password not in output and "app-secret-pw" not in output

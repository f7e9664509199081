"""Read-only mode on both databases at once: PostgreSQL and an authenticated SecantusDB, each under a write load
as the application; kill -9 between the PostgreSQL and the MongoDB step, then a rerun, completes; the undo is exact
on both."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only import ReadOnlyRequest, run_read_only
from tests.integration.postgres.read_only.fence_setup import FencedApp, WriteLoad, snapshot
from tests.support.mongo_server import AuthenticatedMongo
from tests.support.read_only_shop import APP_PW, DB, OPS_PW, mongo_roles

pytestmark = pytest.mark.slow

RUNNER = Path(__file__).parents[1] / "postgres" / "read_only" / "read_only_runner.py"


class MongoWriter:
    """The application user inserting as fast as it can; a write counts when acknowledged."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.accepted: list[float] = []
        self.refused = 0
        self.engaged_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> MongoWriter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def after_engaged(self) -> list[float]:
        return [t for t in self.accepted if self.engaged_at is not None and t >= self.engaged_at]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=3000) as client:
                    for _attempt in range(20):
                        started = time.monotonic()
                        client[DB].orders.insert_one({"at": started})
                        self.accepted.append(started)
            except pymongo.errors.PyMongoError:
                self.refused += 1
                time.sleep(0.01)


def both(app: FencedApp, shop_mongo: AuthenticatedMongo, state_file: Path, **overrides) -> ReadOnlyRequest:
    fields = {"databases": DatabaseConnections(postgres_dsn=app.admin_dsn(), mongodb_uri=shop_mongo.admin_uri,
                                               mongodb_database=DB),
              "state_file": str(state_file), "exempt_roles": (app.ops, "ops")}
    fields.update(overrides)
    return ReadOnlyRequest(**fields)


def test_both_databases_refuse_the_application_and_come_back_exactly(fenced_app, shop_mongo, tmp_path):
    state_file = tmp_path / "read_only.json"
    pg_before, mongo_before = snapshot(fenced_app), mongo_roles(shop_mongo)
    pg_load = WriteLoad(fenced_app.dsn_as(fenced_app.app)).start()
    mongo_load = MongoWriter(shop_mongo.uri_for("app", APP_PW, DB)).start()
    try:
        time.sleep(0.5)
        assert pg_load.accepted and mongo_load.accepted
        result = run_read_only(both(fenced_app, shop_mongo, state_file))
        pg_load.engaged_at = mongo_load.engaged_at = time.monotonic()
        time.sleep(1.5)
    finally:
        pg_load.stop()
        mongo_load.stop()
    assert result.changed and result.phases == {"postgres": "engaged", "mongodb": "engaged"}
    assert pg_load.accepted_after_engaged() == [] and mongo_load.after_engaged() == []
    assert {probe.get("database") for probe in result.probes} == {"postgres", "mongodb"}
    assert all(probe["ok"] for probe in result.probes if probe["database"] == "postgres")
    mongo_probes = [probe for probe in result.probes if probe["database"] == "mongodb"]
    assert any(probe["user"] == f"app@{DB}" for probe in mongo_probes), mongo_probes
    assert all(probe["write_refused"] and probe["read_ok"] for probe in mongo_probes), mongo_probes
    assert set(result.previous) == {"postgres", "mongodb"}
    with pymongo.MongoClient(shop_mongo.uri_for("ops", OPS_PW, DB)) as ops:  # the exempt user keeps writing
        ops[DB].orders.insert_one({"by": "ops"})
    with pymongo.MongoClient(shop_mongo.uri_for("app", APP_PW, DB)) as app:  # reads keep working
        assert app[DB].orders.count_documents({}) > 0

    assert run_read_only(both(fenced_app, shop_mongo, state_file)).changed is False
    assert run_read_only(both(fenced_app, shop_mongo, state_file, state="disabled")).changed
    assert snapshot(fenced_app) == pg_before and mongo_roles(shop_mongo) == mongo_before


def test_kill_9_between_postgres_and_mongodb_then_a_rerun_completes(fenced_app, shop_mongo, tmp_path):
    state_file = tmp_path / "read_only.json"
    pg_before, mongo_before = snapshot(fenced_app), mongo_roles(shop_mongo)
    fields = {"databases": {"postgres_dsn": fenced_app.admin_dsn(), "mongodb_uri": shop_mongo.admin_uri,
                            "mongodb_database": DB}, "state_file": str(state_file),
              "exempt_roles": [fenced_app.ops, "ops"]}
    crashed = subprocess.run([sys.executable, str(RUNNER), json.dumps(fields), "--die-at", "before-mongodb"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    phases = {name: entry["phase"] for name, entry in json.loads(state_file.read_text())["databases"].items()}
    assert phases == {"postgres": "engaged", "mongodb": "planned"}
    assert mongo_roles(shop_mongo) == mongo_before  # MongoDB was not touched yet

    rerun = run_read_only(both(fenced_app, shop_mongo, state_file))
    assert rerun.changed and rerun.phases == {"postgres": "engaged", "mongodb": "engaged"}
    with pymongo.MongoClient(shop_mongo.uri_for("app", APP_PW, DB)) as app, \
            pytest.raises(pymongo.errors.OperationFailure):
        app[DB].orders.insert_one({"after": "rerun"})
    with psycopg.connect(fenced_app.dsn_as(fenced_app.app), autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO items (note) VALUES ('after rerun')")

    run_read_only(both(fenced_app, shop_mongo, state_file, state="disabled"))
    assert snapshot(fenced_app) == pg_before and mongo_roles(shop_mongo) == mongo_before

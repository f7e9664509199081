"""playbooks/emergency_response.yml end to end with ansible-playbook, against a PostgreSQL 15 cluster that archives
its WAL to a repository (a base backup, recovery points before each damage) and SecantusDB with its dump and
change capture: four incidents, each first unapproved (the plan, nothing changed), then approved (recovered, and
checked by reading the data back).

The scenarios share one environment and run in order; each leaves both databases clean for the next:
a dropped table, a dropped collection (object restore from the recovery point), a half-applied set (repaired in
place) and a failed verification after a completed set (rolled back, with the read-only mode engaged and lifted).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import ChangeCapture
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
from tests.support.ansible_cli import PlaybookRun, run_playbook
from tests.support.backup_env import PG_BIN_DIR, ArchivedCluster, start_archived_cluster
from tests.support.pg_cluster import PG_OS_USER
from tests.support.pg_migrations import run as run_migrations
from tests.support.sample_sets import add_set
from tests.support.wal_archiver import install_archiver, new_local_repository_dir

pytestmark = pytest.mark.slow

MONGO_DB = "emergency_shop"

# Non-transactional, so the failing fourth statement leaves the first three committed: the set is partial.
PARTIAL_UP = """CREATE TABLE orders (id int PRIMARY KEY, qty int);
INSERT INTO orders VALUES (1, 0);
CREATE INDEX CONCURRENTLY orders_qty_idx ON orders (qty);
UPDATE orders SET qty = 10 / (SELECT qty FROM orders WHERE id = 1);
"""


@dataclass
class Env:
    pg: ArchivedCluster
    mongo_uri: str
    repository: str
    workdir: Path
    migrations: Path
    webhook: list[dict] = field(default_factory=list)
    webhook_url: str = ""

    @property
    def dsn(self) -> str:
        return self.pg.dsn

    def mongo(self):
        return pymongo.MongoClient(self.mongo_uri)[MONGO_DB]

    def variables(self, **extra) -> dict:
        base = {
            "dbops_postgres_dsn": self.dsn, "dbops_mongodb_uri": self.mongo_uri, "dbops_mongodb_database": MONGO_DB,
            "dbops_repository": self.repository, "dbops_pg_bin_dir": PG_BIN_DIR, "dbops_pg_os_user": PG_OS_USER,
            "dbops_pgdata": str(self.pg.cluster.datadir), "dbops_migrations_dir": "",
            "dbops_report_dir": str(self.workdir / "reports"), "dbops_environment": "test",
            "dbops_emergency_read_only_state_file": str(self.workdir / "read_only.json"),
            "dbops_lock_timeout": "2s", "dbops_runner_lock_timeout": 30, "dbops_migration_stop_grace_period": 2,
        }
        return {**base, **extra}

    def recovery_point(self, name: str, mongodb: bool = True) -> None:
        databases = DatabaseConnections(postgres_dsn=self.dsn, mongodb_uri=self.mongo_uri if mongodb else None,
                                        mongodb_database=MONGO_DB if mongodb else None)
        point = create_recovery_point(RecoveryPointRequest(
            name=name, repository=RepositoryOptions(url=self.repository, local_owner=PG_OS_USER),
            databases=databases, wait_timeout=60))
        assert point.changed and point.point["postgres"]["inventory"]["tables"], point


def pg(dsn: str, statement: str, params=None) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def server_read_only(dsn: str) -> bool:
    """default_transaction_read_only as the server's configuration files set it (ALTER SYSTEM)."""
    return pg(dsn, "SELECT count(*) FROM pg_file_settings WHERE name = 'default_transaction_read_only' "
                   "AND setting = 'on' AND applied") == [(1,)]


def ledger_status(dsn: str) -> dict[str, str]:
    return dict(pg(dsn, "SELECT version, status FROM dbops.schema_migrations"))


def emergency(env: Env, variables: dict, approved: bool) -> PlaybookRun:
    done = run_playbook("emergency_response.yml", {**variables, "dbops_emergency_approved": approved},
                        env.workdir, timeout=300)
    assert done.returncode == 0, done.explain()
    assert done.report is not None and done.report["operation"] == "emergency_response", done.explain()
    html = Path(variables["dbops_report_dir"]).glob("emergency_response-*.html")
    assert any(path.stat().st_size > 0 for path in html)
    return done


def start_webhook(env: Env) -> ThreadingHTTPServer:
    received = env.webhook

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  # the name http.server calls
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/incident"
    return server


@pytest.fixture(scope="module")
def env(mongo_server: str, tmp_path_factory) -> Iterator[Env]:
    archiver = install_archiver()
    repo_dir = new_local_repository_dir()
    options = RepositoryOptions(url=str(repo_dir), local_owner=PG_OS_USER)
    cluster = start_archived_cluster(archiver, options, {"repository": str(repo_dir)})
    workdir = tmp_path_factory.mktemp("emergency")
    migrations = workdir / "migrations"
    migrations.mkdir()
    environment = Env(cluster, mongo_server, str(repo_dir), workdir, migrations)
    webhook = start_webhook(environment)
    stop = threading.Event()
    capture_thread = None
    try:
        cluster.execute("CREATE TABLE courses (id int PRIMARY KEY, title text)")
        cluster.execute("INSERT INTO courses SELECT g, 'course ' || g FROM generate_series(1, 50) g")
        environment.mongo().profiles.insert_many([{"_id": i} for i in range(5)])
        backup = run_backup(BackupRequest(repository=options, databases=DatabaseConnections(
            postgres_dsn=cluster.dsn, mongodb_uri=mongo_server, mongodb_database=MONGO_DB), pg_bin_dir=PG_BIN_DIR))
        assert {b["engine"] for b in backup.backups} == {"postgres", "mongodb"}
        capture = ChangeCapture(mongo_server, options.open(), MONGO_DB, flush_interval_s=0.2,
                                checkpoint_interval_s=0.2)
        capture_thread = threading.Thread(target=capture.run, args=(stop,), daemon=True)
        capture_thread.start()
        yield environment
    finally:
        stop.set()
        if capture_thread is not None:
            capture_thread.join(timeout=30)
        webhook.shutdown()
        cluster.cluster.destroy()
        archiver.destroy()
        shutil.rmtree(repo_dir, ignore_errors=True)


def test_a_dropped_table_is_restored_from_the_recovery_point(env):
    env.recovery_point("before_drop_table")
    assert Catalog(RepositoryOptions(url=env.repository).open()).get_recovery_point("before_drop_table").postgres[
        "inventory"]["tables"] == ["public.courses"]
    pg(env.dsn, "DROP TABLE courses")  # the incident
    variables = env.variables(dbops_emergency_severity="low", dbops_emergency_webhook_url=env.webhook_url)

    planned = emergency(env, variables, approved=False)
    report = planned.report
    assert report["status"] == "awaiting_approval"
    assert report["strategy"]["name"] == "restore_objects" and report["strategy"]["rule"] == "4-missing-objects"
    assert report["strategy"]["tables"] == ["public.courses"] and report["strategy"]["collections"] == []
    assert report["assessment"]["missing"] == {"tables": ["public.courses"], "collections": []}
    assert report["assessment"]["postgres"]["archiver"]["healthy"] is True
    assert report["assessment"]["coverage"]["recovery_point"]["name"] == "before_drop_table"
    assert set(report["assessment"]["coverage"]["backups"]) == {"postgres", "mongodb"}
    assert [entry["phase"] for entry in report["timeline"]] == ["immediate", "assessment", "plan"]
    assert "dbops_emergency_approved=true" in planned.stdout
    assert pg(env.dsn, "SELECT to_regclass('public.courses')") == [(None,)]  # nothing changed
    assert env.webhook[-1]["status"] == "awaiting_approval" and env.webhook[-1]["strategy"] == "restore_objects"

    recovered = emergency(env, variables, approved=True)
    report = recovered.report
    assert report["status"] == "recovered", recovered.explain()
    assert [entry["phase"] for entry in report["timeline"]] == [
        "immediate", "assessment", "plan", "execute", "validation", "lift"]
    assert report["validation"]["clean"] is True
    assert pg(env.dsn, "SELECT count(*), min(id), max(id) FROM courses") == [(50, 1, 50)]
    assert env.webhook[-1]["status"] == "recovered"


def test_a_dropped_collection_is_restored_from_the_recovery_point(env):
    events = env.mongo().events
    events.insert_many([{"_id": i, "kind": "login"} for i in range(1, 31)])
    env.recovery_point("before_drop_collection")
    events.drop()  # the incident
    variables = env.variables(dbops_emergency_severity="medium")

    planned = emergency(env, variables, approved=False)
    assert planned.report["status"] == "awaiting_approval"
    assert planned.report["strategy"]["name"] == "restore_objects"
    assert planned.report["strategy"]["collections"] == ["events"] and planned.report["strategy"]["tables"] == []
    assert planned.report["assessment"]["mongodb"]["capture"]["healthy"] is True
    assert "events" not in env.mongo().list_collection_names()

    recovered = emergency(env, variables, approved=True)
    assert recovered.report["status"] == "recovered", recovered.explain()
    assert sorted(doc["_id"] for doc in env.mongo().events.find()) == list(range(1, 31))
    assert pg(env.dsn, "SELECT count(*) FROM courses") == [(50,)]


def test_a_half_applied_set_is_repaired_in_place(env):
    add_set(env.migrations, "1_students", up="CREATE TABLE students (id int PRIMARY KEY);\n",
            down="DROP TABLE students;\n")
    add_set(env.migrations, "2_orders", up=PARTIAL_UP, down="DROP TABLE orders;\n",
            manifest="postgres:\n  transaction: false\n")
    with pytest.raises(Exception, match="partial"):
        run_migrations(env.dsn, env.migrations)  # the incident: set 2 stops after three committed statements
    assert ledger_status(env.dsn)["2"] == "partial"
    variables = env.variables(dbops_emergency_severity="medium", dbops_mongodb_uri="", dbops_mongodb_database="",
                              dbops_migrations_dir=str(env.migrations))

    planned = emergency(env, variables, approved=False)
    strategy = planned.report["strategy"]
    assert (strategy["name"], strategy["rule"], strategy["on_partial"], strategy["target_version"]) == (
        "repair_in_place", "2-half-applied-set", "compensate", "2")
    assert planned.report["assessment"]["ledger"]["half_applied"] == ["2"]
    assert ledger_status(env.dsn)["2"] == "partial"

    recovered = emergency(env, variables, approved=True)
    assert recovered.report["status"] == "recovered", recovered.explain()
    assert pg(env.dsn, "SELECT to_regclass('public.orders')") == [(None,)]  # compensated: its down ran
    assert ledger_status(env.dsn)["2"] != "partial"
    assert ledger_status(env.dsn)["1"] == "applied"
    assert recovered.report["validation"]["assessment"]["ledger"]["half_applied"] == []
    shutil.rmtree(env.migrations / "2_orders")  # the team withdraws the set


def test_a_failed_verification_after_a_completed_set_is_rolled_back(env):
    add_set(env.migrations, "3_grades", up="CREATE TABLE grades (id int PRIMARY KEY, score int);\n",
            down="DROP TABLE grades;\n", manifest="validate:\n  postgres: SELECT id FROM grades WHERE score < 0\n")
    assert run_migrations(env.dsn, env.migrations).applied == ["3"]
    pg(env.dsn, "INSERT INTO grades VALUES (1, 90), (2, -5)")  # the incident: data the set's rule forbids
    variables = env.variables(dbops_emergency_severity="high", dbops_mongodb_uri="", dbops_mongodb_database="",
                              dbops_migrations_dir=str(env.migrations))

    planned = emergency(env, variables, approved=False)
    strategy = planned.report["strategy"]
    assert (strategy["name"], strategy["rule"], strategy["target_version"]) == (
        "roll_back", "3-failed-verification", "1")
    assert planned.report["read_only"]["engaged"] is True  # high: engaged at once, and left for the approved run
    assert pg(env.dsn, "SELECT count(*) FROM grades") == [(2,)]
    assert server_read_only(env.dsn)  # the collection's own role is exempt: read the server's setting

    recovered = emergency(env, variables, approved=True)
    report = recovered.report
    assert report["status"] == "recovered", recovered.explain()
    assert pg(env.dsn, "SELECT to_regclass('public.grades')") == [(None,)]
    assert ledger_status(env.dsn)["1"] == "applied" and ledger_status(env.dsn)["3"] != "applied"
    assert report["read_only"]["lifted"] is True
    assert not server_read_only(env.dsn)
    pg(env.dsn, "INSERT INTO courses VALUES (51, 'after the incident')")  # writes work again

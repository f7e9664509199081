"""The sample sets of both databases through ansible-playbook (playbooks/migrate.yml, rollback.yml) and the
migrate module with mongodb_uri: PostgreSQL 15 and SecantusDB (MongoDB wire protocol), both real."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pymongo
import pytest

from tests.support.ansible_cli import run_module, run_playbook
from tests.support.mongo_migrations import ledger_status, snapshot
from tests.support.mongo_sample_data import seed_sample_documents

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
ALL_VERSIONS = ["2023.001", "2024.001", "2024.002", "2024.003", "2024.004", "2024.010", "2024.011", "2024.012",
                "2024.013"]
MONGO_VERSIONS = ["2024.001", "2024.002", "2024.003", "2024.004"]


@pytest.fixture
def all_samples(tmp_path: Path) -> Path:
    dest = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", dest, ignore=shutil.ignore_patterns("*.md"))
    return dest


@pytest.fixture
def mongo(mongo_server, mongo_db_name):
    client = pymongo.MongoClient(mongo_server)
    db = client[mongo_db_name]
    seed_sample_documents(db)
    try:
        yield db
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def test_samples_of_both_databases_apply_rerun_and_roll_back(pg_cluster, pg_db, pg_db_name, mongo_server, mongo,
                                                             all_samples, tmp_path):
    variables = {"dbops_postgres_dsn": pg_db, "dbops_mongodb_uri": mongo_server,
                 "dbops_mongodb_database": mongo.name, "dbops_migrations_dir": str(all_samples),
                 "dbops_report_dir": str(tmp_path / "reports"), "dbops_environment": "test",
                 "dbops_runner_lock_timeout": 30}
    pg_empty = pg_cluster.schema_dump(pg_db_name)
    mongo_before = snapshot(mongo, ordered_fields=False)

    planned = run_playbook("migrate.yml", variables, tmp_path, "--check")
    assert planned.returncode == 0, planned.explain()
    assert pg_cluster.schema_dump(pg_db_name) == pg_empty
    assert snapshot(mongo, ordered_fields=False) == mongo_before
    assert "dbops_migrations" not in mongo.list_collection_names()

    applied = run_playbook("migrate.yml", variables, tmp_path)
    assert applied.returncode == 0, applied.explain()
    assert applied.report["applied"] == ALL_VERSIONS and applied.report["status"] == "succeeded"
    assert ledger_status(mongo) == dict.fromkeys(MONGO_VERSIONS, "applied")
    assert mongo.users.count_documents({"preferences": {"$exists": False}}) == 0
    assert mongo.content_blocks.count_documents({}) == 8 * 2 * 2
    assert mongo.courses.count_documents({"curriculum.lessons.content": {"$exists": True}}) == 0
    assert {ix["name"] for ix in mongo.courses.list_indexes()} == {"_id_", "idx_course_browse",
                                                                   "idx_instructor_courses"}
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'content' "
                            "AND column_name = 'last_content_block_id'").fetchone() == (1,)

    rerun = run_playbook("migrate.yml", variables, tmp_path)
    assert rerun.returncode == 0, rerun.explain()
    assert rerun.recap()["changed"] == 0 and rerun.report["applied"] == []

    status = run_module("sevenp.dbops.migrate", {"postgres_dsn": pg_db, "mongodb_uri": mongo_server,
                                                 "mongodb_database": mongo.name, "migrations_dir": str(all_samples),
                                                 "state": "status"})
    assert status.returncode == 0, status.output
    assert status.result["current"] == "2024.013" and status.result["changed"] is False

    back = run_playbook("rollback.yml", {**variables, "dbops_version": "0"}, tmp_path)
    assert back.returncode == 0, back.explain()
    assert back.report["rolled_back"] == list(reversed(ALL_VERSIONS))
    assert pg_cluster.schema_dump(pg_db_name) == pg_empty
    # split_array puts moved fields back at the end of their lesson: compared with field order ignored.
    assert snapshot(mongo, ordered_fields=False) == mongo_before
    assert ledger_status(mongo) == dict.fromkeys(MONGO_VERSIONS, "rolled_back")


def test_module_reports_a_bad_mongodb_password_without_revealing_it(pg_db, all_samples, mongo_server):
    host = mongo_server.split("://", 1)[1].rstrip("/")
    uri = f"mongodb://dbops:not-the-password@{host}/?authSource=admin&serverSelectionTimeoutMS=2000"
    done = run_module("sevenp.dbops.migrate", {"mongodb_uri": uri, "mongodb_database": "education",
                                               "migrations_dir": str(all_samples), "state": "status"})
    assert done.returncode != 0
    assert "not-the-password" not in done.output
    assert done.result["msg"] == f"MongoDB at {host} refused the credentials: authentication failed (code 18)"

"""The emergency_assessment module against real servers: missing tables and collections against the newest
recovery point before the incident, "unknown" for a point without an inventory, and check mode reading the same."""

from __future__ import annotations

import psycopg
import pymongo

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    Catalog,
    RecoveryPointRecord,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
from tests.support.ansible_cli import run_module


def add_point(repository: str, name: str, created: str, tables=None, collections=None) -> None:
    catalog = Catalog(RepositoryOptions(url=repository).open())
    pg = {"lsn": "0/1000000"} if tables is None else {"lsn": "0/1000000", "inventory": {"tables": tables}}
    mongo = {"cluster_time": {"t": 1, "i": 1}}
    if collections is not None:
        mongo["inventory"] = {"collections": collections}
    catalog.add_recovery_point(RecoveryPointRecord(name=name, created_at=created, postgres=pg, mongodb=mongo))


def test_missing_objects_unknown_inventory_and_check_mode(pg_db, mongo_server, mongo_db_name, tmp_path):
    repository = str(tmp_path / "repository")
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    pymongo.MongoClient(mongo_server)[mongo_db_name].kept.insert_one({"_id": 1})
    args = {"postgres_dsn": pg_db, "mongodb_uri": mongo_server, "mongodb_database": mongo_db_name,
            "repository": repository, "severity": "medium", "incident_time": "2026-06-01T12:00:00Z"}

    add_point(repository, "old", "2026-01-01T00:00:00.000000Z")  # taken before points recorded inventories
    unknown = run_module("sevenp.dbops.emergency_assessment", args)
    assert unknown.returncode == 0, unknown.output
    assert unknown.result["assessment"]["missing"] == {"tables": None, "collections": None}
    assert unknown.result["strategy"]["name"] == "none" and not unknown.result["changed"]
    assert unknown.result["assessment"]["postgres"]["replication"] == []

    add_point(repository, "before", "2026-06-01T11:00:00.000000Z", tables=["public.kept", "public.dropped"],
              collections=["kept", "gone"])
    add_point(repository, "after", "2026-06-01T13:00:00.000000Z", tables=["public.kept"], collections=["kept"])
    found = run_module("sevenp.dbops.emergency_assessment", args, "--check")
    assert found.returncode == 0, found.output
    assert found.result["assessment"]["coverage"]["recovery_point"]["name"] == "before"  # not the one after
    assert found.result["assessment"]["missing"] == {"tables": ["public.dropped"], "collections": ["gone"]}
    strategy = found.result["strategy"]
    assert (strategy["name"], strategy["tables"], strategy["collections"], strategy["recovery_point"]) == (
        "restore_objects", ["public.dropped"], ["gone"], "before")
    assert found.result["clean"] is False
    assert any("pg_stat_archiver" in query for query in found.result["queries"])

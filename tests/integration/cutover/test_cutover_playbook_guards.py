"""playbooks/cutover.yml's refusals and its actions that move no traffic, against one estate, in this order: check
mode of the whole run changes nothing; a contract set is refused before anything changes; prepare with an expand
set builds green (the set applied to green only); status reports it; a switch without approval is refused; abort
tears green's replication down and leaves blue as it was."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymongo
import pytest

from tests.support.cutover_estate import CutoverEstate, start_estate
from tests.support.cutover_playbook import cutover_vars, run_cutover
from tests.support.sample_sets import add_set
from tests.support.writable_sides import MONGO_PROBE_COLLECTION, writable_sides

pytestmark = pytest.mark.slow

FLOW = "dbops_cutover_blue_to_green"


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CutoverEstate]:
    with start_estate(tmp_path_factory.mktemp("cutover-guards-estate")) as started:
        yield started


def rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def haproxy_state(estate: CutoverEstate) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(estate.haproxy_socket)
        sock.sendall(f"show servers state {estate.haproxy_backend}\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    # Only the servers' names and operational/admin states: the rest (uptime, weights' timers) moves by itself.
    lines = [line.split() for line in b"".join(chunks).decode().splitlines()[2:] if line.strip()]
    return "\n".join(" ".join(fields[3:7]) for fields in lines)


def snapshot(estate: CutoverEstate) -> dict:
    """Everything a cutover would change, on both sides and in the traffic switch."""
    state = {
        "blue_publications": rows(estate.blue_dsn, "SELECT pubname FROM pg_publication ORDER BY 1"),
        "blue_slots": rows(estate.blue_dsn, "SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
        "blue_schemas": rows(estate.blue_dsn, "SELECT nspname FROM pg_namespace ORDER BY 1"),
        "blue_grants": rows(estate.blue_dsn, "SELECT table_name, privilege_type FROM information_schema."
                                             "role_table_grants WHERE grantee = 'app_user' AND table_schema <> 'dbops' "
                                             "ORDER BY 1, 2"),
        "blue_role_settings": rows(estate.blue_dsn, "SELECT setconfig FROM pg_db_role_setting"),
        "green_tables": rows(estate.green_dsn, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname "
                                               "NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"),
        "green_subscriptions": rows(estate.green_dsn, "SELECT subname FROM pg_subscription ORDER BY 1"),
        "pgbouncer_ini": Path(estate.pgbouncer_config).read_text(),
        "haproxy": haproxy_state(estate),
    }
    for side in ("blue", "green"):
        with pymongo.MongoClient(estate.mongo_uri(side)) as client:
            state[f"{side}_mongo"] = {name: sorted(client[name].list_collection_names())
                                      for name in sorted(client.list_database_names()) if name != "local"}
            state[f"{side}_mongo_app_user"] = client[estate.mongodb_database].command(
                "usersInfo", estate.app_user)["users"][0]["roles"]
    return state


def test_check_mode_of_the_whole_run_changes_nothing(estate: CutoverEstate, tmp_path: Path):
    before = snapshot(estate)
    planned = run_cutover("", cutover_vars(estate, tmp_path), tmp_path, "--check")
    assert planned.returncode == 0, planned.explain()
    assert planned.report["status"] == "planned" and planned.report["check_mode"] is True
    assert [p["name"] for p in planned.report["phases"]] == ["prepare", "sync", "switch"]
    assert snapshot(estate) == before
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue", "green"]}
    # The probe's scratch collection stays behind, and green must be empty for prepare's initial copy.
    with pymongo.MongoClient(estate.green_mongo_uri) as client:
        client[estate.mongodb_database].drop_collection(MONGO_PROBE_COLLECTION)


def test_a_contract_set_is_refused_before_anything_changes(estate: CutoverEstate, tmp_path: Path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    add_set(migrations, "2030.001_add_notes", "ALTER TABLE customers ADD COLUMN notes text;",
            manifest="phase: expand\n")
    # A contract set the old application would trip over (it inserts customers without notes).
    add_set(migrations, "2030.002_notes_required", "ALTER TABLE customers ALTER COLUMN notes SET NOT NULL;",
            manifest='phase: contract\ndepends_on: ["2030.001"]\n')
    before = snapshot(estate)
    refused = run_cutover("prepare", cutover_vars(estate, tmp_path, migrations), tmp_path)
    assert refused.returncode != 0
    assert "2030.002" in refused.output and "contract set" in refused.output, refused.explain()
    assert refused.report["status"] == "failed" and refused.report["failed_phase"] == "prepare"
    assert snapshot(estate) == before


def test_prepare_status_unapproved_switch_and_abort(estate: CutoverEstate, tmp_path: Path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    add_set(migrations, "2030.010_loyalty", "CREATE TABLE loyalty (customer_id int PRIMARY KEY, points int NOT NULL);",
            manifest="phase: expand\n")
    variables = cutover_vars(estate, tmp_path, migrations)
    # What the application sees of blue (the cutover's own state and fence objects come and stay).
    blue_keys = ("blue_grants", "blue_role_settings", "blue_mongo_app_user")
    blue_before = {key: value for key, value in snapshot(estate).items() if key in blue_keys}

    prepared = run_cutover("prepare", variables, tmp_path)
    assert prepared.returncode == 0, prepared.explain()
    assert prepared.report["status"] == "succeeded"
    assert prepared.report["state"]["phase"] == "prepared"
    assert prepared.report["prepare"]["sets_applied"] == ["2030.010"]
    # Green has blue's tables and rows, and the expand set; blue does not have the set.
    assert rows(estate.green_dsn, "SELECT count(*) FROM customers") == [(20,)]
    assert rows(estate.green_dsn, "SELECT to_regclass('public.loyalty') IS NOT NULL") == [(True,)]
    assert rows(estate.blue_dsn, "SELECT to_regclass('public.loyalty') IS NOT NULL") == [(False,)]
    assert rows(estate.green_dsn, f"SELECT subenabled FROM pg_subscription WHERE subname = '{FLOW}'") == [(True,)]
    with pymongo.MongoClient(estate.green_mongo_uri) as client:
        assert client[estate.mongodb_database].customers.count_documents({}) == 20
    # Green takes replication only: the application cannot write there.
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}

    status = run_cutover("status", variables, tmp_path)
    assert status.returncode == 0, status.explain()
    assert "cutover: prepared; the application writes to blue" in status.stdout, status.explain()

    unapproved = run_cutover("switch", variables, tmp_path)
    assert unapproved.returncode != 0
    assert "needs an approval" in unapproved.output, unapproved.explain()
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}

    aborted = run_cutover("abort", variables, tmp_path)
    assert aborted.returncode == 0, aborted.explain()
    assert aborted.report["state"]["phase"] == "aborted" and aborted.report["active"] == "blue"
    assert rows(estate.green_dsn, "SELECT subname FROM pg_subscription") == []
    assert rows(estate.blue_dsn, f"SELECT pubname FROM pg_publication WHERE pubname = '{FLOW}'") == []
    assert rows(estate.blue_dsn, f"SELECT slot_name FROM pg_replication_slots WHERE slot_name = '{FLOW}'") == []
    with pymongo.MongoClient(estate.green_mongo_uri) as client:
        assert client.dbops.replication_state.count_documents({"_id": estate.mongodb_database}) == 0
    # Blue as it was: the application's grants and settings, and it still writes there.
    after = snapshot(estate)
    assert {key: after[key] for key in blue_before} == blue_before
    assert "blue" in writable_sides(estate)["postgres"] and "blue" in writable_sides(estate)["mongodb"]

    # Aborted, the cutover can be prepared again (and then aborted again).
    again = run_cutover("abort", variables, tmp_path)
    assert again.returncode == 0, again.explain()

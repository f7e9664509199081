"""cutover_switch against the real estate: check mode first (nothing changes), the switch to green under a write
load through PgBouncer and HAProxy (every acknowledged write on green, sequences past blue's, the reverse flow
running, exactly one writable side), a rerun that changes nothing, then the fallback to blue from the reverse flows
(every write made on green is on blue)."""

from __future__ import annotations

import time

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import pgbouncer_status, routed_to
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import run_cutover_switch
from tests.integration.cutover import estate_fixtures
from tests.integration.cutover.estate_fixtures import (
    MongoWriter,
    PgWriter,
    after_switch,
    options,
    state_of,
    switch_request,
    wait_until,
)
from tests.support.cutover_estate import CutoverEstate
from tests.support.writable_sides import writable_sides

pytestmark = pytest.mark.slow
estate = estate_fixtures.estate  # the module's prepared estate (a fixture)


def pg_ids(estate: CutoverEstate, side: str) -> set[int]:
    with psycopg.connect(estate.pg_dsn(side)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM orders")}


def mongo_keys(estate: CutoverEstate, side: str) -> set[str]:
    with pymongo.MongoClient(estate.mongo_uri(side)) as client:
        return {doc["_id"] for doc in client[estate.mongodb_database].writes.find({}, {"_id": 1})}


def routed(estate: CutoverEstate) -> tuple[int, str | None]:
    """(the port PgBouncer routes `app` to, per SHOW DATABASES; the server HAProxy routes to)."""
    settings = options(estate).traffic
    return int(pgbouncer_status(settings)["port"]), routed_to(settings)


def test_check_mode_plans_and_changes_nothing(estate: CutoverEstate):
    before = state_of(estate)
    result = run_cutover_switch(switch_request(estate, approved=False, check_mode=True))
    assert result.changed and not result.undone
    assert [step["name"] for step in result.planned] == list(steps.ORDER)
    assert any('PAUSE "app"' in text for text in result.queries)
    assert any("REVOKE" in text and "postgres:blue" in text for text in result.queries)
    assert result.preflight["postgres"]["enabled"] is True and result.preflight["mongodb"]["healthy"] is True
    assert state_of(estate)["generation"] == before["generation"]
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}
    assert routed(estate) == (estate.cluster("blue").port, "blue")


def test_switch_to_green_under_load_loses_nothing(estate: CutoverEstate):
    pg_writer = PgWriter(estate.app_dsn).start()
    mongo_writer = MongoWriter(estate.app_mongo_uri, estate.mongodb_database).start()
    try:
        wait_until(lambda: len(pg_writer.acknowledged) > 20 and len(mongo_writer.acknowledged) > 20)
        result = run_cutover_switch(switch_request(estate, probe_dsn=estate.app_dsn))
        at_switch = len(pg_writer.acknowledged), len(mongo_writer.acknowledged)
        # Writes after the switch, on green, by the same clients.
        wait_until(lambda: len(pg_writer.acknowledged) > at_switch[0] + 5
                   and len(mongo_writer.acknowledged) > at_switch[1] + 5, timeout=20)
    finally:
        pg_writer.stop()
        mongo_writer.stop()
    assert not result.undone, (result.slow_step, result.error)
    assert [step["name"] for step in result.steps] == list(steps.ORDER)
    assert all(step["ok"] for step in result.steps)
    assert result.pause_ms is not None and result.pause_ms < 2000
    assert result.largest_client_gap_ms is not None and result.client_failures == 0
    positions = result.positions
    for key in ("fence_lsn", "switch_lsn", "reverse_lsn", "fence_cluster_time", "applied_cluster_time",
                "reverse_start"):
        assert positions.get(key), key
    assert pg_writer.failed == 0, pg_writer.errors
    state = state_of(estate)
    assert state["active"] == "green" and state["phase"] == "switched" and state["step"] == steps.CLEANUP
    assert set(state["fences"]) == {"blue"}  # blue is the passive side now
    assert writable_sides(estate) == {"postgres": ["green"], "mongodb": ["green"]}
    assert routed(estate) == (estate.cluster("green").port, "green")
    assert set(pg_writer.acknowledged) <= pg_ids(estate, "green")
    assert set(mongo_writer.acknowledged) <= mongo_keys(estate, "green")
    # Sequences: green's is past every id blue handed out (headroom 1000).
    orders = next(item for item in result.sequences if item["name"] == "public.orders_id_seq")
    assert orders["new_value"] >= orders["old_value"] + 1000
    with psycopg.connect(estate.green_dsn) as conn:
        flows = conn.execute("SELECT count(*) FROM pg_subscription").fetchone()[0]
        slot = conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                            "'dbops_cutover_green_to_blue'").fetchone()[0]
    with psycopg.connect(estate.blue_dsn) as conn:
        reverse = conn.execute("SELECT subenabled FROM pg_subscription WHERE subname = "
                               "'dbops_cutover_green_to_blue'").fetchone()
        forward_slot = conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0]
    assert flows == 0 and slot == 1 and reverse == (True,) and forward_slot == 0  # forward flow dropped
    after_switch(estate, result, "blue", "green")


def test_rerun_after_the_switch_changes_nothing(estate: CutoverEstate):
    generation = state_of(estate)["generation"]
    result = run_cutover_switch(switch_request(estate))
    assert not result.changed and result.steps == []
    assert state_of(estate)["generation"] == generation


def test_fallback_to_blue_brings_back_every_write_made_on_green(estate: CutoverEstate):
    pg_writer = PgWriter(estate.app_dsn).start()
    mongo_writer = MongoWriter(estate.app_mongo_uri, estate.mongodb_database).start()
    try:
        wait_until(lambda: len(pg_writer.acknowledged) > 20 and len(mongo_writer.acknowledged) > 20)
        wait_until(lambda: set(mongo_writer.acknowledged[:20]) <= mongo_keys(estate, "blue"))  # reverse copy runs
        result = run_cutover_switch(switch_request(estate, "to_blue"))
        time.sleep(0.3)
    finally:
        pg_writer.stop()
        mongo_writer.stop()
    assert not result.undone, (result.slow_step, result.error)
    assert pg_writer.failed == 0, pg_writer.errors
    state = state_of(estate)
    assert state["active"] == "blue" and state["phase"] == "fallen_back"
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}
    assert routed(estate) == (estate.cluster("blue").port, "blue")
    assert set(pg_writer.acknowledged) <= pg_ids(estate, "blue")
    assert set(mongo_writer.acknowledged) <= mongo_keys(estate, "blue")
    # New ids on blue do not collide with those green handed out.
    with psycopg.connect(estate.app_dsn_direct("blue"), prepare_threshold=None) as conn:
        new_id = conn.execute("INSERT INTO orders (item) VALUES ('after fallback') RETURNING id").fetchone()[0]
    assert new_id > max(pg_writer.acknowledged)
    after_switch(estate, result, "green", "blue")

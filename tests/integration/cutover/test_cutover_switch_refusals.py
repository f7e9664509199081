"""cutover_switch refuses, before changing anything, with a message naming what is wrong: no approval, the forward
subscription not streaming, the MongoDB copy stopped or reporting a gap, another run holding the cutover; and a
switch whose pause passes max_pause_ms is undone: traffic on blue, blue writable, green fenced, the subscription
enabled and streaming, no reverse flow."""

from __future__ import annotations

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import pgbouncer_status, routed_to
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import run_cutover_switch
from tests.integration.cutover import estate_fixtures
from tests.integration.cutover.estate_fixtures import (
    mongo_copy,
    options,
    state_of,
    switch_request,
    wait_until,
)
from tests.support.cutover_estate import CutoverEstate
from tests.support.writable_sides import writable_sides

pytestmark = pytest.mark.slow
estate = estate_fixtures.estate  # the module's prepared estate (a fixture)

FORWARD = "dbops_cutover_blue_to_green"


def unchanged(estate: CutoverEstate, generation: int) -> None:
    assert state_of(estate)["generation"] == generation
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}
    assert routed_to(options(estate).traffic) == "blue"
    assert int(pgbouncer_status(options(estate).traffic)["port"]) == estate.cluster("blue").port


def refused(estate: CutoverEstate, match: str, **request) -> None:
    generation = state_of(estate)["generation"]
    with pytest.raises(Exception, match=match):
        run_cutover_switch(switch_request(estate, **request))
    unchanged(estate, generation)


def test_refused_without_approval(estate: CutoverEstate):
    refused(estate, "needs approved=true", approved=False)


def test_refused_when_the_subscription_is_not_streaming(estate: CutoverEstate):
    with psycopg.connect(estate.green_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER SUBSCRIPTION {FORWARD} DISABLE")
        try:
            refused(estate, f"subscription {FORWARD} on green is disabled, not streaming")
        finally:
            conn.execute(f"ALTER SUBSCRIPTION {FORWARD} ENABLE")
    wait_until(lambda: psycopg.connect(estate.green_dsn).execute(
        "SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL").fetchone()[0] > 0)


def test_refused_when_the_mongodb_copy_is_stopped_or_has_a_gap(estate: CutoverEstate):
    mongo_copy(estate, "blue", "green", state="stopped")
    try:
        refused(estate, "MongoDB: the copy blue -> green of app is not running")
        with pymongo.MongoClient(estate.green_mongo_uri) as client:
            state = client.dbops.replication_state
            state.update_one({"_id": "app"}, {"$set": {"gap": "resume token older than the oplog"}})
            try:
                refused(estate, "reports a gap .*resume token older than the oplog.*would lose writes")
            finally:
                state.update_one({"_id": "app"}, {"$set": {"gap": None}})
    finally:
        mongo_copy(estate, "blue", "green")


def test_refused_while_another_run_holds_the_cutover(estate: CutoverEstate):
    with psycopg.connect(estate.blue_dsn, autocommit=True) as other_run:
        assert other_run.execute("SELECT pg_try_advisory_lock(hashtext('dbops_cutover:default'))").fetchone()[0]
        refused(estate, "another run of cutover 'default' is in progress: it holds the cutover's lock on "
                        "PostgreSQL blue")


def test_a_pause_over_max_pause_ms_is_undone_and_everything_is_back(estate: CutoverEstate):
    result = run_cutover_switch(switch_request(estate, max_pause_ms=1))
    # The budget starts with the first fence, MongoDB's: its step is the first over 1 ms.
    assert result.changed and result.undone and result.slow_step == "mongodb_fence_old", result.error
    assert "max_pause_ms 1" in (result.error or "")
    state = state_of(estate)
    assert state["active"] == "blue" and state["phase"] == "undone" and set(state["fences"]) == {"green"}
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}
    settings = options(estate).traffic
    assert routed_to(settings) == "blue" and not pgbouncer_status(settings)["paused"]
    with psycopg.connect(estate.green_dsn) as conn:
        assert conn.execute("SELECT subname, subenabled FROM pg_subscription").fetchall() == [(FORWARD, True)]
        assert conn.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0  # no reverse publication
    with psycopg.connect(estate.blue_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0  # no reverse subscription
        assert conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall() == [(FORWARD,)]
    # The forward flow still streams: a write through PgBouncer reaches green.
    with psycopg.connect(estate.app_dsn, prepare_threshold=None, autocommit=True) as app:
        new_id = app.execute("INSERT INTO orders (item) VALUES ('after undo') RETURNING id").fetchone()[0]
    wait_until(lambda: psycopg.connect(estate.green_dsn).execute(
        "SELECT count(*) FROM orders WHERE id = %s", (new_id,)).fetchone()[0] == 1)
    # And the next switch, within its budget, goes through.
    again = run_cutover_switch(switch_request(estate))
    assert not again.undone and state_of(estate)["active"] == "green"

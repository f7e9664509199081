"""The switch's replication steps on two real PostgreSQL 15 clusters: a forward flow blue -> green, disabled, then
the reverse flow green -> blue started without copy; a write on green reaches blue, sequences on green go past
blue's, and dropping a flow twice is a no-op the second time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import switch_steps
from tests.support.pg_cluster import SUPERUSER_PASSWORD, PgCluster, new_cluster

APP_DB = "app"
FORWARD = "dbops_cutover_blue_to_green"
REVERSE = "dbops_cutover_green_to_blue"
LOGICAL = {"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10",
           "wal_receiver_status_interval": "1"}
SCHEMA = ("CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL);"
          "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);"
          "CREATE SEQUENCE countdown INCREMENT BY -1; CREATE SEQUENCE unused")


@dataclass
class Pair:
    blue: PgCluster
    green: PgCluster

    def connect(self, cluster: PgCluster) -> psycopg.Connection:
        return psycopg.connect(cluster.dsn(APP_DB), autocommit=True)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    blue = new_cluster(prefix="dbops-blue-", extra_conf=LOGICAL)
    green = new_cluster(prefix="dbops-green-", extra_conf=LOGICAL)
    try:
        for cluster in (blue, green):
            cluster.create_database(APP_DB)
            cluster.psql(SCHEMA, APP_DB)
        yield Pair(blue, green)
    finally:
        green.destroy()
        blue.destroy()


def _wait_for(conn: psycopg.Connection, query: str, expected: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(query).fetchone()
        value = None if row is None else row[0]
        if value == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{query}: {value!r} after {timeout:g} s, expected {expected!r}")
        time.sleep(0.1)


def test_forward_then_reverse_without_copy(pair: Pair) -> None:
    blue, green = pair.connect(pair.blue), pair.connect(pair.green)
    queries: list[str] = []
    blue.execute("INSERT INTO orders (item) SELECT 'before-' || g FROM generate_series(1, 5) g")
    blue.execute("SELECT nextval('countdown') FROM generate_series(1, 3)")

    # Forward: from now on (no copy), so rows written before the flow stay on blue only.
    forward_lsn = switch_steps.start_flow_without_copy(blue, green, FORWARD, pair.blue.dsn(APP_DB), queries)
    assert "/" in forward_lsn
    assert switch_steps.start_flow_without_copy(blue, green, FORWARD, pair.blue.dsn(APP_DB), []) is not None
    assert any("CREATE SUBSCRIPTION" in query for query in queries)
    assert not any(SUPERUSER_PASSWORD in query for query in queries), "the publisher's password is masked"
    blue.execute("INSERT INTO orders (item) VALUES ('forward-1'), ('forward-2')")
    blue.execute("INSERT INTO dbops.cutover_fence (cutover, side, token) VALUES ('default', 'blue', 't1')")
    _wait_for(green, "SELECT count(*) FROM orders WHERE item LIKE 'forward-%'", 2)
    _wait_for(green, "SELECT token FROM dbops.cutover_fence", "t1")
    fence_lsn = switch_steps.current_lsn(blue)
    _wait_for(blue, f"SELECT confirmed_flush_lsn >= '{fence_lsn}'::pg_lsn FROM pg_replication_slots "
                    f"WHERE slot_name = '{FORWARD}'", True)
    assert switch_steps.flushed_lsn(blue, FORWARD) is not None
    assert switch_steps.flushed_lsn(blue, "no_such_slot") is None

    # Switch: forward disabled (its worker gone), sequences advanced, reverse flow from green's position now.
    assert switch_steps.disable_subscription(green, FORWARD, queries) is True
    assert switch_steps.disable_subscription(green, FORWARD, queries) is False
    assert green.execute("SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL").fetchone()[0] == 0
    blue_last = blue.execute("SELECT last_value FROM orders_id_seq").fetchone()[0]
    advanced = {item["name"]: item for item in switch_steps.advance_sequences(blue, green, queries, headroom=1000)}
    assert advanced["public.orders_id_seq"] == {"name": "public.orders_id_seq", "old_value": blue_last,
                                                "new_value": blue_last + 1000, "changed": True}
    assert advanced["public.countdown"]["new_value"] == -1003, "a descending sequence goes further down"
    assert advanced["public.unused"] == {"name": "public.unused", "old_value": None, "new_value": None,
                                         "changed": False}
    assert advanced["dbops.cutover_fence_id_seq"]["changed"] is True, "the fence rows travel back with their ids"
    again = {item["name"]: item for item in switch_steps.advance_sequences(blue, green, [], headroom=10)}
    assert again["public.orders_id_seq"]["changed"] is False, "a sequence is never moved back"
    reverse_lsn = switch_steps.start_flow_without_copy(green, blue, REVERSE, pair.green.dsn(APP_DB), queries)
    assert switch_steps.start_flow_without_copy(green, blue, REVERSE, pair.green.dsn(APP_DB), []) == reverse_lsn

    # A write on the new side arrives on the old one, with an id past everything blue had.
    new_id = green.execute("INSERT INTO orders (item) VALUES ('on-green') RETURNING id").fetchone()[0]
    assert new_id == blue_last + 1001
    green.execute("INSERT INTO customers VALUES (1, 'ada')")
    _wait_for(blue, "SELECT count(*) FROM orders WHERE item = 'on-green'", 1)
    _wait_for(blue, "SELECT name FROM customers WHERE id = 1", "ada")

    # Undo path: the forward subscription can be enabled again, and disabled again.
    assert switch_steps.enable_subscription(green, FORWARD, queries) is True
    assert switch_steps.enable_subscription(green, FORWARD, queries) is False
    assert switch_steps.disable_subscription(green, FORWARD, queries) is True

    # Drop both flows; a second drop changes nothing.
    assert switch_steps.drop_flow(blue, green, FORWARD, queries) is True
    assert switch_steps.drop_flow(green, blue, REVERSE, queries) is True
    assert switch_steps.drop_flow(blue, green, FORWARD, queries) is False
    assert switch_steps.drop_flow(green, blue, REVERSE, queries) is False
    for conn in (blue, green):
        assert conn.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    with pytest.raises(switch_steps.SubscriptionNotFound):
        switch_steps.disable_subscription(green, FORWARD, [])


def test_drop_flow_with_subscriber_unreachable(pair: Pair) -> None:
    """The publisher's objects are dropped even when the subscriber cannot be reached (its side passed as None);
    the walsender of a subscription still running there is ended."""
    blue, green = pair.connect(pair.blue), pair.connect(pair.green)
    name = "dbops_cutover_unreachable"
    switch_steps.start_flow_without_copy(blue, green, name, pair.blue.dsn(APP_DB), [])
    _wait_for(blue, f"SELECT active FROM pg_replication_slots WHERE slot_name = '{name}'", True)
    green.execute(f"ALTER SUBSCRIPTION {name} DISABLE")
    green.execute(f"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)")
    assert switch_steps.drop_flow(blue, None, name, []) is True
    assert blue.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
    assert switch_steps.drop_flow(None, green, name, []) is True
    assert green.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0


def test_a_reverse_flow_onto_a_side_with_fewer_columns_carries_what_both_sides_have(pair: Pair) -> None:
    """An expand set applied to the new side alone (a column, a table): the reverse flow publishes the columns and
    tables both sides have, so the old side's apply worker never meets a column it lacks, and every write the old
    application can read flows back."""
    blue, green = pair.connect(pair.blue), pair.connect(pair.green)
    green.execute("ALTER TABLE customers ADD COLUMN email text")
    green.execute("CREATE TABLE green_only (id int PRIMARY KEY)")
    name = "dbops_cutover_fewer_columns"
    try:
        assert switch_steps.flow_gaps(green, blue) == ["table public.customers lacks column(s) email",
                                                       "table public.green_only is missing"]
        assert switch_steps.flow_gaps(blue, green) == [], "more columns on the subscriber are fine"
        assert switch_steps.flow_limits(green, blue) == [
            "column(s) email of public.customers (the subscriber does not have them)",
            "table public.green_only (the subscriber does not have it)"]
        queries: list[str] = []
        switch_steps.start_flow_without_copy(green, blue, name, pair.green.dsn(APP_DB), queries)
        assert any('"public"."customers" ("id", "name")' in query for query in queries), queries
        green.execute("INSERT INTO customers VALUES (77, 'grace', 'grace@example.org')")
        green.execute("INSERT INTO green_only VALUES (1)")
        green.execute("UPDATE customers SET name = 'grace h', email = 'gh@example.org' WHERE id = 77")
        _wait_for(blue, "SELECT name FROM customers WHERE id = 77", "grace h")
        green.execute("DELETE FROM customers WHERE id = 77")
        _wait_for(blue, "SELECT count(*) FROM customers WHERE id = 77", 0)
        assert blue.execute("SELECT count(*) FROM pg_stat_subscription WHERE subname = %s AND pid IS NOT NULL",
                            (name,)).fetchone()[0] == 1, "the apply worker still runs"
    finally:
        switch_steps.drop_flow(green, blue, name, [])
        green.execute("DROP TABLE green_only")
        green.execute("ALTER TABLE customers DROP COLUMN email")


def test_a_flow_that_could_not_carry_updates_is_refused_before_anything_is_created(pair: Pair) -> None:
    """The subscriber lacks a table's key column: updates on the publisher would fail, so nothing is created."""
    blue, green = pair.connect(pair.blue), pair.connect(pair.green)
    green.execute("CREATE TABLE keyed (code text PRIMARY KEY, note text)")
    blue.execute("CREATE TABLE keyed (note text)")
    try:
        with pytest.raises(switch_steps.SwitchStepFailed, match="identity column.s. code"):
            switch_steps.start_flow_without_copy(green, blue, REVERSE, pair.green.dsn(APP_DB), [])
        assert green.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
        assert green.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
        assert blue.execute("SELECT count(*) FROM pg_subscription").fetchone()[0] == 0
    finally:
        green.execute("DROP TABLE keyed")
        blue.execute("DROP TABLE keyed")

"""sevenp.dbops.logical_replication on two real PostgreSQL 15 clusters: present (twice), check mode, refreshed after a
new table on blue, disabled/enabled, absent (twice), status, and a wrong password."""

from __future__ import annotations

import time

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.logical_replication import (
    LogicalReplicationRequest,
    manage,
)
from tests.integration.postgres import logical_pair
from tests.integration.postgres.logical_pair import APP_USER, LogicalPair
from tests.support.ansible_cli import run_module
from tests.support.pg_cluster import SUPERUSER_PASSWORD

NAME = "dbops_cutover_blue_to_green"


clusters = logical_pair.clusters  # the module's two clusters (fixtures)
pair = logical_pair.pair


def _args(pair: LogicalPair, **options: object) -> dict:
    return {"source_dsn": pair.dsn(pair.blue), "target_dsn": pair.dsn(pair.green), "timeout": 60, **options}


def _request(pair: LogicalPair, **options: object) -> LogicalReplicationRequest:
    return LogicalReplicationRequest(source_dsn=pair.dsn(pair.blue), target_dsn=pair.dsn(pair.green),
                                     timeout=60, **options)  # type: ignore[arg-type]


def _wait_for(pair: LogicalPair, query: str, expected: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (value := pair.green.psql(query, "app")) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"green: {query} = {value!r}, expected {expected!r}")
        time.sleep(0.1)


def test_present_twice_copies_everything_once_and_streams(pair: LogicalPair) -> None:
    run = run_module("sevenp.dbops.logical_replication", _args(pair))
    assert run.returncode == 0, run.output
    result = run.result
    assert result["changed"] is True
    assert SUPERUSER_PASSWORD not in run.output
    assert result["name"] == NAME
    assert result["tables"] == ["public.customers", "public.orders", "dbops.cutover_fence"]
    assert all(check["ok"] for check in result["guardrails"]), result["guardrails"]
    assert {check["check"] for check in result["guardrails"]} >= {
        "wal_level", "replica_identity", "source_capacity", "target_capacity", "long_transactions"}
    assert result["roles_created"] == [APP_USER]
    assert result["schema_copied"] is True and result["ledger_copied"] is True
    assert result["subscription"]["enabled"] is True
    assert result["subscription"]["tables"] == {"ready": 3}
    assert any(query.startswith("target: CREATE SUBSCRIPTION") and "********" in query
               for query in result["queries"]), result["queries"]

    # Rows copied, the ledger copied (not published), the role can log in with its password, and writes stream.
    assert pair.green.psql("SELECT count(*) FROM orders", "app") == "50"
    assert pair.green.psql("SELECT count(*) FROM customers", "app") == "20"
    assert pair.green.psql("SELECT version FROM dbops.schema_migrations", "app") == "001"
    assert pair.green.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'customers_name'", "app") == "1"
    assert pair.green.psql(f"SELECT has_table_privilege('{APP_USER}', 'orders', 'INSERT')", "app") == "t"
    assert pair.blue.psql("SELECT count(*) FROM pg_publication_tables WHERE schemaname = 'dbops'", "app") == "1"
    pair.blue.psql("INSERT INTO orders (item) VALUES ('streamed'); UPDATE customers SET name = 'renamed' "
                   "WHERE id = 1; INSERT INTO dbops.cutover_fence (cutover, side, token) VALUES ('c', 'blue', 't')",
                   "app")
    _wait_for(pair, "SELECT count(*) FROM orders WHERE item = 'streamed'", "1")
    _wait_for(pair, "SELECT name FROM customers WHERE id = 1", "renamed")
    _wait_for(pair, "SELECT token FROM dbops.cutover_fence", "t")
    pair.blue.psql("INSERT INTO dbops.schema_migrations (version, name, checksum, status) "
                   "VALUES ('002', 'later', 'def', 'applied')", "app")

    again = run_module("sevenp.dbops.logical_replication", _args(pair))
    assert again.returncode == 0, again.output
    assert again.result["changed"] is False, again.result["queries"]
    assert again.result["queries"] == []
    assert again.result["roles_created"] == [] and again.result["schema_copied"] is False
    assert pair.green.psql("SELECT count(*) FROM dbops.schema_migrations", "app") == "1", \
        "the ledger is copied once, never replicated"


def test_check_mode_plans_and_changes_nothing(pair: LogicalPair) -> None:
    before = (pair.snapshot(pair.blue), pair.snapshot(pair.green))
    run = run_module("sevenp.dbops.logical_replication", _args(pair), "--check")
    assert run.returncode == 0, run.output
    assert run.result["changed"] is True
    queries = run.result["queries"]
    assert any("pg_dumpall --roles-only" in query for query in queries)
    assert any(f"CREATE ROLE {APP_USER}" in query for query in queries)
    assert any("pg_dump" in query and "--schema-only" in query for query in queries)
    assert any(query.startswith("source: CREATE PUBLICATION") for query in queries)
    assert any(query.startswith("target: CREATE SUBSCRIPTION") for query in queries)
    assert SUPERUSER_PASSWORD not in run.output
    assert (pair.snapshot(pair.blue), pair.snapshot(pair.green)) == before


def test_refreshed_publishes_and_copies_a_new_table(pair: LogicalPair) -> None:
    manage(_request(pair))
    pair.blue.psql("CREATE TABLE invoices (id int PRIMARY KEY, total numeric NOT NULL);"
                   "INSERT INTO invoices SELECT i, i * 10 FROM generate_series(1, 7) AS i", "app")
    planned = manage(_request(pair, state="refreshed", check_mode=True))
    assert planned.changed is True and planned.tables_added == ["public.invoices"]
    assert pair.green.psql("SELECT to_regclass('public.invoices') IS NULL", "app") == "t"

    refreshed = manage(_request(pair, state="refreshed"))
    assert refreshed.changed is True
    assert refreshed.tables_added == ["public.invoices"]
    assert any("REFRESH PUBLICATION" in query for query in refreshed.queries)
    assert refreshed.subscription["tables"] == {"ready": 4}
    assert pair.green.psql("SELECT sum(total) FROM invoices", "app") == "280"
    pair.blue.psql("INSERT INTO invoices VALUES (8, 1)", "app")
    _wait_for(pair, "SELECT count(*) FROM invoices", "8")
    again = manage(_request(pair, state="refreshed"))
    assert again.changed is False and again.queries == [] and again.notes == []

    # An expand set applied to green alone: reported, since the reverse flow of a fallback leaves it out.
    pair.green.psql("ALTER TABLE invoices ADD COLUMN paid boolean", "app")
    noted = manage(_request(pair, state="refreshed"))
    assert noted.changed is False
    assert any("reverse flow" in note and "public.invoices lacks column(s) paid" in note for note in noted.notes), \
        noted.notes


def test_disabled_enabled_status_and_absent_twice(pair: LogicalPair) -> None:
    manage(_request(pair))
    disabled = manage(_request(pair, state="disabled"))
    assert disabled.changed is True and disabled.subscription["enabled"] is False
    assert manage(_request(pair, state="disabled")).changed is False
    enabled = manage(_request(pair, state="enabled"))
    assert enabled.changed is True and enabled.subscription["enabled"] is True
    status = manage(_request(pair, state="status"))
    assert status.changed is False and status.subscription["slot_exists"] is True
    assert status.subscription["publication_tables"] == 3

    planned = manage(_request(pair, state="absent", check_mode=True))
    assert planned.changed is True and any("DROP SUBSCRIPTION" in query for query in planned.queries)
    assert pair.green.psql("SELECT count(*) FROM pg_subscription", "app") == "1"
    absent = run_module("sevenp.dbops.logical_replication", _args(pair, state="absent"))
    assert absent.returncode == 0 and absent.result["changed"] is True, absent.output
    assert pair.green.psql("SELECT count(*) FROM pg_subscription", "app") == "0"
    assert pair.blue.psql("SELECT count(*) FROM pg_replication_slots") == "0"
    assert pair.blue.psql("SELECT count(*) FROM pg_publication", "app") == "0"
    again = manage(_request(pair, state="absent"))
    assert again.changed is False and again.queries == []


def test_absent_with_the_source_unreachable_drops_the_subscription_and_says_what_is_left(pair: LogicalPair) -> None:
    manage(_request(pair))
    unreachable = pair.blue.dsn("app").replace(str(pair.blue.port), "1")
    result = manage(LogicalReplicationRequest(source_dsn=unreachable, target_dsn=pair.dsn(pair.green),
                                              state="absent"))
    assert result.changed is True
    assert any("source is not reachable" in note for note in result.notes), result.notes
    assert pair.green.psql("SELECT count(*) FROM pg_subscription", "app") == "0"
    assert pair.blue.psql("SELECT count(*) FROM pg_replication_slots") == "1"
    assert manage(_request(pair, state="absent")).changed is True
    assert pair.blue.psql("SELECT count(*) FROM pg_replication_slots") == "0"


def test_a_wrong_password_is_a_clear_message_without_the_password(pair: LogicalPair) -> None:
    wrong = "not-the-password-42"
    run = run_module("sevenp.dbops.logical_replication",
                     _args(pair, source_dsn=pair.blue.dsn("app", password=wrong)))
    assert run.returncode != 0
    assert "source" in run.result["msg"] and "refused the credentials" in run.result["msg"], run.result
    assert wrong not in run.output
    assert pair.green.psql("SELECT count(*) FROM pg_subscription", "app") == "0"

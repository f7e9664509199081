"""Applying, re-running, rolling back and planning against a real PostgreSQL."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DriftError, IrreversibleMigration
from tests.support.pg_migrations import ledger, query, run, write_set


def _three_sets(root):
    write_set(root, "2024.001_auth", up="""
        -- base schema
        CREATE SCHEMA auth;
        CREATE TABLE auth.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,
                                 bio text DEFAULT 'semi;colon ''quoted''');
        CREATE FUNCTION auth.touch() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            NEW.email := lower(NEW.email);  -- a ; inside dollar quotes
            RETURN NEW;
        END;
        $body$;
        """, down="DROP SCHEMA auth CASCADE;", manifest={"description": "auth base"})
    write_set(root, "2024.002_content", up="""
        CREATE SCHEMA content;
        CREATE TABLE content.courses (id bigserial PRIMARY KEY, owner bigint REFERENCES auth.users (id),
                                      title text NOT NULL);
        """, down="DROP SCHEMA content CASCADE;", manifest={"depends_on": ["2024.001"]})
    analytics_up = """
        CREATE SCHEMA analytics;
        CREATE TABLE analytics.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
        """
    write_set(root, "2024.010_analytics", up=analytics_up, down="DROP SCHEMA analytics CASCADE;",
              verify="SELECT 1 WHERE to_regclass('analytics.events') IS NULL")


def test_apply_all_then_rerun_changes_nothing(pg_db, migrations):
    _three_sets(migrations)
    result = run(pg_db, migrations)
    assert result.changed is True
    assert result.applied == ["2024.001", "2024.002", "2024.010"]
    assert result.before == "0" and result.after == "2024.010" and result.current == "2024.010"
    assert result.pending == []
    assert [s["status"] for s in result.sets] == ["applied"] * 3
    assert any("CREATE SCHEMA content" in q for q in result.queries)
    assert {v: s for v, (s, _error) in ledger(pg_db).items()} == {
        "2024.001": "applied", "2024.002": "applied", "2024.010": "applied"}
    logged = query(pg_db, "SELECT count(*) FROM dbops.migration_log WHERE direction = 'up' AND status = 'ok'")
    assert logged == [(7,)]

    again = run(pg_db, migrations)
    assert again.changed is False
    assert again.applied == [] and again.plan == [] and again.queries == []
    assert again.current == "2024.010"


def test_rollback_to_a_version_and_to_zero_gives_identical_schema(pg_cluster, pg_db, pg_db_name, migrations):
    empty = pg_cluster.schema_dump(pg_db_name)
    _three_sets(migrations)
    run(pg_db, migrations, target="2024.001")
    after_first = pg_cluster.schema_dump(pg_db_name)
    run(pg_db, migrations)

    back = run(pg_db, migrations, state="rolled_back", target="2024.001")
    assert back.rolled_back == ["2024.010", "2024.002"]
    assert back.current == "2024.001"
    assert pg_cluster.schema_dump(pg_db_name) == after_first

    to_zero = run(pg_db, migrations, state="rolled_back", target="0")
    assert to_zero.rolled_back == ["2024.001"] and to_zero.current == "0"
    assert pg_cluster.schema_dump(pg_db_name) == empty
    assert {s for s, _error in ledger(pg_db).values()} == {"rolled_back"}

    # Nothing left to roll back; and everything can be applied again.
    assert run(pg_db, migrations, state="rolled_back", target="0").changed is False
    assert run(pg_db, migrations).applied == ["2024.001", "2024.002", "2024.010"]


def test_check_mode_creates_nothing_not_even_the_ledger(pg_cluster, pg_db, pg_db_name, migrations):
    empty = pg_cluster.schema_dump(pg_db_name, exclude_schema=None)
    _three_sets(migrations)
    result = run(pg_db, migrations, check_mode=True)
    assert result.changed is True
    assert result.applied == ["2024.001", "2024.002", "2024.010"]
    assert result.after == "2024.010" and result.before == "0"
    assert [p["version"] for p in result.plan] == ["2024.001", "2024.002", "2024.010"]
    assert any(q.startswith("CREATE SCHEMA analytics") for q in result.queries)
    assert query(pg_db, "SELECT to_regnamespace('dbops')") == [(None,)]
    assert pg_cluster.schema_dump(pg_db_name, exclude_schema=None) == empty

    # Check mode of a rollback plans the downs and changes nothing either.
    run(pg_db, migrations)
    before = pg_cluster.schema_dump(pg_db_name, exclude_schema=None)
    plan = run(pg_db, migrations, state="rolled_back", target="0", check_mode=True)
    assert plan.rolled_back == ["2024.010", "2024.002", "2024.001"] and plan.after == "0"
    assert pg_cluster.schema_dump(pg_db_name, exclude_schema=None) == before


def test_status_reports_without_changing(pg_db, migrations):
    _three_sets(migrations)
    run(pg_db, migrations, target="2024.002")
    status = run(pg_db, migrations, state="status")
    assert status.changed is False
    assert status.current == "2024.002" and status.pending == ["2024.010"]


def test_drift_fails_naming_the_version_unless_allowed(pg_db, migrations):
    _three_sets(migrations)
    run(pg_db, migrations)
    (migrations / "2024.002_content" / "postgres.up.sql").write_text("CREATE SCHEMA content; -- edited")
    with pytest.raises(DriftError) as err:
        run(pg_db, migrations)
    assert "2024.002" in str(err.value) and "postgres.up.sql" in str(err.value)
    allowed = run(pg_db, migrations, allow_drift=True)
    assert allowed.changed is False
    assert any("2024.002" in w and "drift" in w for w in allowed.warnings)


def test_rollback_refuses_before_changing_anything_when_a_down_is_missing(
        pg_cluster, pg_db, pg_db_name, migrations):
    _three_sets(migrations)
    (migrations / "2024.002_content" / "postgres.down.sql").unlink()
    run(pg_db, migrations)
    before = pg_cluster.schema_dump(pg_db_name)
    with pytest.raises(IrreversibleMigration) as err:
        run(pg_db, migrations, state="rolled_back", target="0")
    assert "2024.002" in str(err.value) and "postgres.down.sql" in str(err.value)
    # 2024.010 is above the irreversible set and reversible, but nothing was rolled back.
    assert pg_cluster.schema_dump(pg_db_name) == before
    assert ledger(pg_db)["2024.010"][0] == "applied"


def test_apply_up_to_a_target_and_out_of_order(pg_db, migrations):
    _three_sets(migrations)
    assert run(pg_db, migrations, target="2024.002").applied == ["2024.001", "2024.002"]
    write_set(migrations, "2024.005_late_branch", up="CREATE TABLE content.late (id int);",
              down="DROP TABLE content.late;")
    result = run(pg_db, migrations)
    assert result.applied == ["2024.005", "2024.010"]
    run(pg_db, migrations, target="2024.010")  # already there: no-op
    out_of_order = migrations / "2024.003_even_later"
    write_set(migrations, out_of_order.name, up="CREATE TABLE content.later (id int);",
              down="DROP TABLE content.later;")
    result = run(pg_db, migrations)
    assert result.applied == ["2024.003"]
    assert any("out of order" in w for w in result.warnings)

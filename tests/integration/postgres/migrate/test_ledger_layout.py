"""The ledger's layout is versioned: an older ledger is upgraded in place, losing and changing nothing."""

from __future__ import annotations

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.ledger_layout import (
    LATEST,
    LedgerLayoutTooNew,
)
from tests.support.pg_migrations import query, run, write_set

# The ledger as releases before layout versions created it (layout 1), frozen: never edit to match the code.
LAYOUT_1_DDL = """
CREATE SCHEMA IF NOT EXISTS dbops;
CREATE TABLE IF NOT EXISTS dbops.schema_migrations (
    version      text PRIMARY KEY,
    name         text NOT NULL,
    checksum     text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'partial', 'applied', 'failed', 'rolled_back')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    duration_ms  bigint,
    applied_by   text NOT NULL DEFAULT current_user,
    applied_from text,
    run_id       text,
    error        text
);
CREATE TABLE IF NOT EXISTS dbops.migration_log (
    id          bigserial PRIMARY KEY,
    run_id      text NOT NULL,
    version     text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('up', 'down', 'verify', 'backfill')),
    seq         integer NOT NULL,
    statement   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error', 'lock_timeout')),
    attempt     integer NOT NULL DEFAULT 1,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    error       text
);
CREATE TABLE IF NOT EXISTS dbops.statement_progress (
    version        text NOT NULL,
    direction      text NOT NULL CHECK (direction IN ('up', 'down')),
    seq            integer NOT NULL,
    statement_sha  text NOT NULL,
    status         text NOT NULL CHECK (status IN ('running', 'done')),
    invalid_before jsonb,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, direction, seq)
);
CREATE TABLE IF NOT EXISTS dbops.backfill_progress (
    version     text NOT NULL,
    name        text NOT NULL,
    table_name  text NOT NULL,
    last_key    jsonb,
    rows_done   bigint NOT NULL DEFAULT 0,
    batches     bigint NOT NULL DEFAULT 0,
    status      text NOT NULL CHECK (status IN ('running', 'done')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, name)
);
"""

# Rows of sets no longer in the migrations directory (orphans: reported, never touched).
LAYOUT_1_ROWS = """
INSERT INTO dbops.schema_migrations (version, name, checksum, status, started_at, finished_at, duration_ms,
                                     applied_by, applied_from, run_id, error) VALUES
    ('1', 'old_users', 'abc123', 'applied', '2024-01-02 03:04:05+00', '2024-01-02 03:04:06+00', 1000, 'deploy',
     'host-a', 'run-1', NULL),
    ('2', 'old_orders', 'def456', 'rolled_back', '2024-02-02 03:04:05+00', '2024-02-02 03:04:07+00', 2000,
     'deploy', 'host-b', 'run-2', 'compensated: the set failed: boom');
INSERT INTO dbops.migration_log (run_id, version, direction, seq, statement, status, attempt, started_at,
                                 duration_ms, error) VALUES
    ('run-1', '1', 'up', 1, 'CREATE TABLE users (id int)', 'ok', 1, '2024-01-02 03:04:05+00', 1.5, NULL),
    ('run-2', '2', 'up', 1, 'ALTER TABLE orders ADD x int', 'lock_timeout', 1, '2024-02-02 03:04:05+00', 100,
     'canceling statement due to lock timeout');
INSERT INTO dbops.statement_progress (version, direction, seq, statement_sha, status, invalid_before, updated_at)
VALUES ('2', 'down', 1, 'feedbeef', 'done', '[1, 2]', '2024-02-02 03:04:08+00');
INSERT INTO dbops.backfill_progress (version, name, table_name, last_key, rows_done, batches, status, started_at,
                                     updated_at)
VALUES ('2', 'fill_x', 'orders', '["41"]', 41, 3, 'running', '2024-02-02 03:04:05+00', '2024-02-02 03:04:09+00');
"""

LAYOUT_1_TABLES = {
    "schema_migrations": "version, name, checksum, status, started_at, finished_at, duration_ms, applied_by, "
                         "applied_from, run_id, error",
    "migration_log": "id, run_id, version, direction, seq, statement, status, attempt, started_at, duration_ms, error",
    "statement_progress": "version, direction, seq, statement_sha, status, invalid_before, updated_at",
    "backfill_progress": "version, name, table_name, last_key, rows_done, batches, status, started_at, updated_at",
}


def _layout_1_rows(dsn: str) -> dict[str, list[tuple]]:
    """The fixture's rows, layout-1 columns only (the upgrade may add columns, never change these)."""
    return {table: query(dsn, f"SELECT {columns} FROM dbops.{table} WHERE version IN ('1', '2') ORDER BY 1, 2, 3")
            for table, columns in LAYOUT_1_TABLES.items()}


def _everything(dsn: str) -> dict[str, list[str]]:
    tables = [r[0] for r in query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'dbops'")]
    return {t: sorted(r[0] for r in query(dsn, f"SELECT x::text FROM dbops.{t} x")) for t in tables}


@pytest.fixture
def layout_1_ledger(pg_db) -> dict[str, list[tuple]]:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(LAYOUT_1_DDL)
        conn.execute(LAYOUT_1_ROWS)
    return _layout_1_rows(pg_db)


def _layout(dsn: str) -> list[int]:
    if query(dsn, "SELECT to_regclass('dbops.ledger_layout')") == [(None,)]:
        return []
    return [r[0] for r in query(dsn, "SELECT version FROM dbops.ledger_layout ORDER BY version")]


def test_a_layout_1_ledger_is_upgraded_without_losing_or_changing_a_row(pg_db, migrations, layout_1_ledger):
    write_set(migrations, "5_new", up="CREATE TABLE fresh (id int);", down="DROP TABLE fresh;")
    result = run(pg_db, migrations)
    assert result.applied == ["5"]
    assert _layout(pg_db) == [LATEST] == [2]
    assert _layout_1_rows(pg_db) == layout_1_ledger
    assert query(pg_db, "SELECT version, status FROM dbops.schema_migrations WHERE version = '5'") == [
        ("5", "applied")]
    # The new layout's column is written for new rows; the old rows keep NULL.
    assert query(pg_db, "SELECT version, statement_sha IS NOT NULL FROM dbops.migration_log ORDER BY id") == [
        ("1", False), ("2", False), ("5", True)]

    # A rerun changes nothing at all: no upgrade step again, no row written.
    before = _everything(pg_db)
    assert run(pg_db, migrations).changed is False
    assert _everything(pg_db) == before


def test_the_upgrade_runs_without_pending_sets_too(pg_db, migrations, layout_1_ledger):
    assert run(pg_db, migrations).changed is False
    assert _layout(pg_db) == [LATEST]
    assert _layout_1_rows(pg_db) == layout_1_ledger


def test_check_mode_reports_the_pending_upgrade_and_changes_nothing(pg_db, migrations, layout_1_ledger):
    write_set(migrations, "5_new", up="CREATE TABLE fresh (id int);")
    result = run(pg_db, migrations, check_mode=True)
    assert any("upgrade pending from layout 1 to layout 2" in w for w in result.warnings), result.warnings
    assert _layout(pg_db) == []
    assert _layout_1_rows(pg_db) == layout_1_ledger


def test_check_mode_with_nothing_to_do_still_reports_the_pending_upgrade(pg_db, layout_1_ledger, tmp_path):
    empty = tmp_path / "no_sets"
    empty.mkdir()
    for state in ("applied", "status"):
        result = run(pg_db, empty, check_mode=state == "applied", state=state)
        assert any("upgrade pending from layout 1 to layout 2" in w for w in result.warnings), (state, result.warnings)
    assert _layout(pg_db) == []
    assert _layout_1_rows(pg_db) == layout_1_ledger


def test_a_fresh_ledger_is_created_at_the_latest_layout(pg_db, migrations):
    write_set(migrations, "1_a", up="CREATE TABLE a (id int);")
    run(pg_db, migrations)
    assert _layout(pg_db) == [LATEST]


def test_a_ledger_newer_than_this_code_is_refused(pg_db, migrations):
    write_set(migrations, "1_a", up="CREATE TABLE a (id int);")
    run(pg_db, migrations)
    query(pg_db, "INSERT INTO dbops.ledger_layout (version) VALUES (99)")
    write_set(migrations, "2_b", up="CREATE TABLE b (id int);")
    for check_mode in (True, False):
        with pytest.raises(LedgerLayoutTooNew, match="layout version 99, newer than this release of sevenp.dbops "
                                                     f"knows \\(up to {LATEST}\\)"):
            run(pg_db, migrations, check_mode=check_mode)
    assert query(pg_db, "SELECT to_regclass('b')") == [(None,)]

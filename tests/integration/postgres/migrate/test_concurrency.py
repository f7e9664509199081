"""Non-transactional statements, runner locks and lock_timeout retries, with concurrent sessions."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed, RunnerLockTimeout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.advisory_lock import RUNNER_LOCK_KEY
from tests.support.pg_migrations import ledger, query, run, write_set


def _invalid_indexes(dsn):
    return query(dsn, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")


def test_concurrently_set_runs_outside_a_transaction(pg_cluster, pg_db, pg_db_name, migrations):
    empty = pg_cluster.schema_dump(pg_db_name)
    write_set(migrations, "1_users", up="""
        CREATE TABLE users (id bigserial PRIMARY KEY, email text, token text);
        INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 100) g;
        CREATE INDEX CONCURRENTLY users_token_idx ON users (token) WHERE token IS NOT NULL;
        CREATE TYPE mood AS ENUM ('ok');
        ALTER TYPE mood ADD VALUE 'great';
        VACUUM (ANALYZE) users;
        COMMENT ON INDEX users_token_idx IS 'partial';
        """, down="""
        DROP INDEX CONCURRENTLY IF EXISTS users_token_idx;
        DROP TYPE mood;
        DROP TABLE users;
        """)
    result = run(pg_db, migrations)
    assert result.applied == ["1"]
    assert query(pg_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_token_idx'::regclass") == [(True,)]
    assert query(pg_db, "SELECT enum_range(NULL::mood)::text") == [("{ok,great}",)]
    log = query(pg_db, "SELECT seq, status FROM dbops.migration_log WHERE version = '1' ORDER BY seq")
    assert log == [(i, "ok") for i in range(1, 8)]
    assert query(pg_db, "SELECT count(*) FROM dbops.statement_progress") == [(0,)]

    assert run(pg_db, migrations, state="rolled_back", target="0").rolled_back == ["1"]
    assert pg_cluster.schema_dump(pg_db_name) == empty


def test_failed_concurrent_index_leaves_no_invalid_index_and_rerun_resumes(pg_db, migrations):
    write_set(migrations, "1_dupes", up="""
        CREATE TABLE accounts (id int PRIMARY KEY, email text);
        INSERT INTO accounts VALUES (1, 'a'), (2, 'a'), (3, 'b');
        CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key ON accounts (email);
        ALTER TABLE accounts ADD CONSTRAINT accounts_email_unique UNIQUE USING INDEX accounts_email_key;
        """, down="DROP TABLE accounts;")
    with pytest.raises(MigrationFailed) as err:
        run(pg_db, migrations)
    assert "statement 3" in str(err.value) and "could not create unique index" in str(err.value)
    assert _invalid_indexes(pg_db) == []
    assert ledger(pg_db)["1"][0] == "partial"
    # The table was created and filled by the first (committed) segment.
    assert query(pg_db, "SELECT count(*) FROM accounts") == [(3,)]

    # Someone repairs the data; the rerun resumes at statement 3 and never repeats 1 and 2
    # (repeating them would fail: the table exists, the ids are taken).
    query(pg_db, "UPDATE accounts SET email = 'c' WHERE id = 2")
    result = run(pg_db, migrations)
    assert result.applied == ["1"]
    assert result.queries[0].startswith("CREATE UNIQUE INDEX CONCURRENTLY")
    assert ledger(pg_db)["1"] == ("applied", None)
    ok = query(pg_db, "SELECT seq, count(*) FROM dbops.migration_log WHERE version = '1' AND status = 'ok' "
                      "GROUP BY seq ORDER BY seq")
    assert ok == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert query(pg_db, "SELECT conname FROM pg_constraint WHERE conname = 'accounts_email_unique'") == [
        ("accounts_email_unique",)]


def _wait_for_runner_lock(dsn, timeout=10.0):
    unsigned = RUNNER_LOCK_KEY & 0xFFFFFFFFFFFFFFFF
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(dsn, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                          "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
                     (unsigned >> 32, unsigned & 0xFFFFFFFF))
        if rows:
            return
        time.sleep(0.02)
    raise AssertionError("the first runner never took the runner lock")


def test_two_runners_one_applies_the_other_waits_and_finds_nothing_to_do(pg_db, migrations):
    write_set(migrations, "1_slow", up="CREATE TABLE slow (id int); SELECT pg_sleep(1.5);", down="DROP TABLE slow;")
    results = {}

    def first():
        results["first"] = run(pg_db, migrations)

    thread = threading.Thread(target=first)
    thread.start()
    _wait_for_runner_lock(pg_db)
    started = time.monotonic()
    second = run(pg_db, migrations, runner_lock_wait_s=20)
    waited = time.monotonic() - started
    thread.join()
    assert results["first"].applied == ["1"]
    assert second.changed is False and second.applied == [] and second.current == "1"
    assert waited > 0.5


def test_runner_lock_wait_times_out_with_a_clear_error(pg_db, migrations):
    write_set(migrations, "1_a", up="CREATE TABLE a (id int);")
    with psycopg.connect(pg_db, autocommit=True, application_name="other-runner") as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RUNNER_LOCK_KEY,))
        with pytest.raises(RunnerLockTimeout) as err:
            run(pg_db, migrations, runner_lock_wait_s=0.5)
    assert "waited 0.5s" in str(err.value) and "other-runner" in str(err.value)
    assert query(pg_db, "SELECT to_regclass('a')") == [(None,)]


def test_lock_timeout_retries_without_blocking_other_sessions(pg_db, migrations):
    write_set(migrations, "1_table", up="CREATE TABLE busy (id int); INSERT INTO busy SELECT generate_series(1, 10);",
              down="DROP TABLE busy;")
    run(pg_db, migrations)
    write_set(migrations, "2_alter", up="ALTER TABLE busy ADD COLUMN note text;",
              down="ALTER TABLE busy DROP COLUMN note;")

    holder = psycopg.connect(pg_db)  # a long transaction holding a lock on the table
    holder.execute("SELECT count(*) FROM busy")
    outcome = {}

    def migrate():
        try:
            outcome["result"] = run(pg_db, migrations, lock_timeout_ms=150, ddl_retries=12)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=migrate)
    thread.start()
    latencies = []
    with psycopg.connect(pg_db, autocommit=True) as reader:
        reader.execute("SET statement_timeout = '10s'")
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            t0 = time.monotonic()
            reader.execute("SELECT count(*) FROM busy").fetchone()
            latencies.append(time.monotonic() - t0)
            time.sleep(0.02)
    holder.commit()  # the long transaction ends: the next retry gets the lock
    holder.close()
    thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].applied == ["2"]
    # Other sessions waited at most about one lock_timeout, never for the whole long transaction.
    assert max(latencies) < 1.0, max(latencies)
    retries = query(pg_db, "SELECT count(*) FROM dbops.migration_log WHERE version = '2' AND status = 'lock_timeout'")
    assert retries[0][0] >= 2
    assert query(pg_db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy' "
                        "AND column_name = 'note'") == [(1,)]


def test_transaction_false_records_each_statement_and_resumes(pg_db, migrations):
    write_set(migrations, "1_steps", up="""
        CREATE TABLE steps (id int PRIMARY KEY);
        INSERT INTO steps VALUES (1);
        INSERT INTO steps SELECT 2 + 0 / (SELECT count(*) - 1 FROM steps);
        INSERT INTO steps VALUES (3);
        """, down="DROP TABLE steps;", manifest={"postgres": {"transaction": False, "statement_timeout": "5s"}})
    with pytest.raises(MigrationFailed, match="statement 3 .*division by zero"):
        run(pg_db, migrations)
    assert ledger(pg_db)["1"][0] == "partial"
    assert query(pg_db, "SELECT id FROM steps") == [(1,)]
    query(pg_db, "INSERT INTO steps VALUES (99)")  # now the division works: 0 / (2 - 1)
    assert run(pg_db, migrations).applied == ["1"]
    assert query(pg_db, "SELECT id FROM steps ORDER BY id") == [(1,), (2,), (3,), (99,)]
    ok = query(pg_db, "SELECT seq FROM dbops.migration_log WHERE version = '1' AND status = 'ok' ORDER BY seq")
    assert ok == [(1,), (2,), (3,), (4,)]


def test_runner_killed_during_a_concurrent_index_build_is_cleaned_up_on_rerun(pg_db, migrations):
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_executor import statement_sha
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
        split_statements,
    )

    up = """
        CREATE TABLE acc (id int PRIMARY KEY, email text);
        INSERT INTO acc VALUES (1, 'a'), (2, 'a');
        CREATE UNIQUE INDEX CONCURRENTLY acc_email_key ON acc (email);
        """
    write_set(migrations, "1_acc", up=up, down="DROP TABLE acc;")
    with pytest.raises(MigrationFailed):
        run(pg_db, migrations)
    # What a runner killed in the middle of statement 3 leaves: the statement marked running, an INVALID index.
    with psycopg.connect(pg_db, autocommit=True) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY acc_email_key ON acc (email)")
    assert _invalid_indexes(pg_db) == [("acc_email_key",)]
    stmt = split_statements(up)[2]
    query(pg_db, "INSERT INTO dbops.statement_progress (version, direction, seq, statement_sha, status, "
                 "invalid_before) VALUES ('1', 'up', 3, %s, 'running', '[]')", (statement_sha(stmt.sql),))
    query(pg_db, "UPDATE dbops.schema_migrations SET status = 'running' WHERE version = '1'")
    query(pg_db, "UPDATE acc SET email = 'b' WHERE id = 2")

    result = run(pg_db, migrations)
    assert result.applied == ["1"]
    assert any("dropped INVALID index(es) public.acc_email_key" in w for w in result.warnings)
    assert _invalid_indexes(pg_db) == []
    assert query(pg_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'acc_email_key'::regclass") == [(True,)]


def test_rollback_stopped_part_way_is_finished_by_the_next_rollback(pg_cluster, pg_db, pg_db_name, migrations):
    empty = pg_cluster.schema_dump(pg_db_name)
    write_set(migrations, "1_t", up="CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX CONCURRENTLY t_idx ON t (id);",
              down="DROP INDEX CONCURRENTLY IF EXISTS t_idx; DROP TABLE t;")
    run(pg_db, migrations)
    query(pg_db, "CREATE TABLE blocker (t_id int REFERENCES t)")
    with pytest.raises(MigrationFailed, match="rollback statement 2 .*other objects depend on it"):
        run(pg_db, migrations, state="rolled_back", target="0")
    assert ledger(pg_db)["1"][0] == "partial"
    with pytest.raises(MigrationFailed, match="stopped part-way"):
        run(pg_db, migrations)
    query(pg_db, "DROP TABLE blocker")
    assert run(pg_db, migrations, state="rolled_back", target="0").rolled_back == ["1"]
    assert pg_cluster.schema_dump(pg_db_name) == empty
    downs = query(pg_db, "SELECT seq, status FROM dbops.migration_log WHERE direction = 'down' ORDER BY id")
    assert downs == [(1, "ok"), (2, "error"), (2, "ok")]

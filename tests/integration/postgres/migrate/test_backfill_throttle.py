"""A backfill next to another session's locks: it backs off and still migrates every row exactly once."""

from __future__ import annotations

import threading
import time

import psycopg

from tests.support.pg_migrations import query, run, write_set

ROWS = 2000


def _sets(migrations, pacing: dict, set_sql: str = "counter = counter + 1, touched = true") -> None:
    write_set(migrations, "1_items", up=f"""
        CREATE TABLE items (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0, label text, hits int DEFAULT 0);
        INSERT INTO items (id) SELECT g FROM generate_series(1, {ROWS}) g;
        """, down="DROP TABLE items;")
    write_set(migrations, "2_count", up="ALTER TABLE items ADD COLUMN touched boolean;",
              down="ALTER TABLE items DROP COLUMN touched;",
              verify="SELECT id FROM items WHERE counter <> 1 OR touched IS NOT TRUE",
              manifest={"backfill": [{"name": "count", "table": "items", "key": "id", "set": set_sql,
                                      "where": "touched IS NULL", **pacing}]})


def _summary(dsn: str) -> str:
    return query(dsn, "SELECT statement FROM dbops.migration_log WHERE version = '2' AND direction = 'backfill' "
                      "AND status = 'ok'")[-1][0].splitlines()[-1]


def test_sessions_waiting_on_the_batches_make_the_backfill_shrink_and_back_off(pg_db, migrations):
    # Slow batches (about 1 ms a row) and an application of two sessions that keep updating the row just after
    # the backfill's checkpoint, the first one the batch in flight locks: they wait for most of the batch, longer
    # than the half of the batch time that is let be.
    _sets(migrations, {"batch_time": "150ms", "batch_size": 400},
          set_sql="counter = counter + 1, touched = (pg_sleep(0.001) IS NOT NULL)")
    run(pg_db, migrations, target="1")
    stop = threading.Event()
    app_updates = []

    def application() -> None:
        with psycopg.connect(pg_db, autocommit=True) as conn:
            done = 0
            while not stop.is_set():
                done += conn.execute("UPDATE items SET hits = hits + 1 WHERE id = (SELECT (last_key->>0)::bigint + 1 "
                                     "FROM dbops.backfill_progress WHERE name = 'count')").rowcount
            app_updates.append(done)

    apps = [threading.Thread(target=application, daemon=True) for _session in range(2)]
    for app in apps:
        app.start()
    try:
        result = run(pg_db, migrations)
    finally:
        stop.set()
        for app in apps:
            app.join(timeout=30)
    assert result.applied == ["2"]
    assert query(pg_db, "SELECT counter, count(*) FROM items GROUP BY counter") == [(1, ROWS)]
    assert query(pg_db, "SELECT rows_done, status FROM dbops.backfill_progress") == [(ROWS, "done")]
    # The application's updates were neither lost nor refused: the sum of hits is the number it made.
    assert query(pg_db, "SELECT sum(hits) FROM items")[0][0] == sum(app_updates)
    summary = _summary(pg_db)
    backoffs = int(summary.split(" lock backoffs")[0].rsplit(", ", 1)[1])
    assert backoffs >= 1, summary


def test_a_row_lock_held_by_another_session_times_the_batch_out_it_shrinks_and_retries(pg_db, migrations):
    _sets(migrations, {})
    # The column exists before the backfill's set, so the held row lock only stands in the backfill's way.
    write_set(migrations, "1_items", up=f"""
        CREATE TABLE items (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0, label text, touched boolean);
        INSERT INTO items (id) SELECT g FROM generate_series(1, {ROWS}) g;
        """, down="DROP TABLE items;")
    write_set(migrations, "2_count", up="SELECT 1;", down="SELECT 1;", manifest={
        "postgres": {"lock_timeout": "100ms"}, "backfill": [{
            "name": "count", "table": "items", "key": "id", "set": "counter = counter + 1, touched = true",
            "where": "touched IS NULL", "batch_size": 500, "batch_time": "100ms"}]})
    run(pg_db, migrations, target="1")
    with psycopg.connect(pg_db) as holder:
        # The application holds row 1,500 in an open transaction for a second.
        holder.execute("UPDATE items SET label = 'held' WHERE id = 1500")
        release = threading.Timer(1.0, holder.commit)
        release.start()
        started = time.monotonic()
        try:
            result = run(pg_db, migrations, ddl_retries=10)
        finally:
            release.join()
    assert time.monotonic() - started >= 0.9  # it waited for the lock in retries, not by failing
    assert result.applied == ["2"]
    assert query(pg_db, "SELECT counter, count(*) FROM items GROUP BY counter") == [(1, ROWS)]
    assert query(pg_db, "SELECT label FROM items WHERE id = 1500") == [("held",)]
    summary = _summary(pg_db)
    timeouts = int(summary.split(" lock timeouts")[0].rsplit(", ", 1)[1])
    assert timeouts >= 1, summary

"""Online changes through the migrate engine: under a pgbench write load, after a kill -9, in check mode, rolled
back, with a composite primary key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.integration.postgres.online_change.shop_schema import ORDERS, column_type, total_change, write_shop
from tests.support.pg_cluster import PG_BIN_DIR
from tests.support.pg_migrations import query, run, write_set

ROOT = Path(__file__).resolve().parents[4]
LOAD_KEYS = 3000
# Every transaction changes orders and, in the same transaction, the same row of shop.expected: afterwards the
# two must hold the same rows, whatever the change did in between. The advisory lock on the key serializes the
# transactions on one key: without it, under READ COMMITTED, a DELETE of a key absent from orders could still
# delete the row another client just inserted into shop.expected (a gap in the load, not in the change).
LOAD_SCRIPTS = {
    "upsert.sql": f"""\\set k random(101, {LOAD_KEYS})
\\set v random(1, 100000)
BEGIN;
SELECT pg_advisory_xact_lock(:k);
INSERT INTO shop.orders (id, total, label) VALUES (:k, :v, 'load')
  ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total;
INSERT INTO shop.expected (id, total) VALUES (:k, :v) ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total;
END;
""",
    "update.sql": f"""\\set k random(1, {LOAD_KEYS})
BEGIN;
SELECT pg_advisory_xact_lock(:k);
UPDATE shop.orders SET total = total + 1 WHERE id = :k;
UPDATE shop.expected SET total = total + 1 WHERE id = :k;
END;
""",
    "delete.sql": f"""\\set k random(101, {LOAD_KEYS})
BEGIN;
SELECT pg_advisory_xact_lock(:k);
DELETE FROM shop.orders WHERE id = :k;
DELETE FROM shop.expected WHERE id = :k;
END;
""",
}


def _q(dsn):
    return lambda text, params=None: query(dsn, text, params)


def _leftovers(dsn: str) -> list[tuple]:
    return query(dsn, "SELECT relname FROM pg_class WHERE relname LIKE '%%__shadow_%%' UNION ALL "
                      "SELECT proname FROM pg_proc WHERE proname LIKE 'online_change_%%' UNION ALL "
                      "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dbops_online_change%%'")


@pytest.fixture
def app_role(pg_db):
    role = "oc_app_" + uuid.uuid4().hex[:8]
    query(pg_db, f"CREATE ROLE {role}")
    try:
        yield role
    finally:
        with psycopg.connect(pg_db, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_type_change_under_a_write_load_loses_and_duplicates_no_row(pg_db, migrations, tmp_path, app_role):
    write_shop(migrations, total_change(batch_size=100))
    run(pg_db, migrations, target="1")
    query(pg_db, "CREATE TABLE shop.expected AS SELECT id, total FROM shop.orders; "
                 "ALTER TABLE shop.expected ADD PRIMARY KEY (id); "
                 f"GRANT SELECT, INSERT ON shop.orders TO {app_role}; GRANT SELECT ON shop.big_orders TO {app_role}")
    scripts = []
    weights = {"upsert.sql": 5, "update.sql": 3, "delete.sql": 2}
    for name, text in LOAD_SCRIPTS.items():
        (tmp_path / name).write_text(text)
        scripts += ["-f", f"{tmp_path / name}@{weights[name]}"]
    load = subprocess.Popen([str(PG_BIN_DIR / "pgbench"), "-n", "-c", "3", "-T", "6", *scripts, pg_db],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        result = run(pg_db, migrations)
    finally:
        output = load.communicate(timeout=60)[0]
    assert load.returncode == 0, output
    assert result.applied == ["2"]
    processed = int(output.split("number of transactions actually processed: ")[1].split("\n")[0].split("/")[0])
    assert processed > 100, output
    assert column_type(_q(pg_db), "shop.orders", "total") == "numeric(14,2)"
    # No lost, duplicated or ghost row: the table holds exactly what the load's own record says.
    # (The differing rows, if any, are shown: which key and what each side holds.)
    assert query(pg_db, "SELECT id, o.total, e.total, o.label FROM shop.orders o FULL JOIN shop.expected e "
                        "USING (id) WHERE o.id IS NULL OR e.id IS NULL OR o.total <> e.total") == []
    assert query(pg_db, "SELECT count(*) = count(DISTINCT id) FROM shop.orders") == [(True,)]
    # The incoming foreign key points to the new table and holds; the view, its comment and the grants survive.
    assert query(pg_db, "SELECT confrelid::regclass::text, convalidated FROM pg_constraint "
                        "WHERE conname = 'lines_order_id_fkey'") == [("shop.orders", True)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        query(pg_db, "INSERT INTO shop.lines VALUES (999999, 99999999)")
    assert query(pg_db, "SELECT obj_description('shop.big_orders'::regclass, 'pg_class'), "
                        "(SELECT count(*) FROM shop.big_orders) > 0") == [("orders over 100", True)]
    assert query(pg_db, f"SELECT has_table_privilege('{app_role}', 'shop.orders', 'INSERT'), "
                        f"has_table_privilege('{app_role}', 'shop.orders', 'DELETE'), "
                        f"has_table_privilege('{app_role}', 'shop.big_orders', 'SELECT')") == [(True, False, True)]
    # The serial's sequence now belongs to the new table and still hands out ids; the indexes kept their names.
    assert query(pg_db, "SELECT pg_get_serial_sequence('shop.orders', 'id')") == [("shop.orders_id_seq",)]
    query(pg_db, "SELECT setval('shop.orders_id_seq', 100000)")
    assert query(pg_db, "INSERT INTO shop.orders (total) VALUES (7) RETURNING id, note") == [(100001, "")]
    assert {r[0] for r in query(pg_db, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")} == {
        "orders_pkey", "orders_label"}
    assert query(pg_db, "SELECT count(*) FROM shop.orders__old_2") != [(0,)]
    assert _leftovers(pg_db) == []


def _runner(dsn: str, migrations: Path) -> subprocess.Popen:
    request = {"migrations_dir": str(migrations), "postgres_dsn": dsn, "runner_lock_wait_s": 10,
               "lock_timeout_ms": 2000}
    return subprocess.Popen([sys.executable, str(ROOT / "tests/support/engine_runner.py"), json.dumps(request)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_during_the_copy(dsn: str, migrations: Path) -> None:
    # About 1 ms a row: the copy takes a few seconds, the kill lands in the middle of it.
    write_shop(migrations, total_change(batch_size=100, using={
        "total": "CASE WHEN pg_sleep(0.001) IS NOT NULL THEN round(total::numeric, 2) END"}))
    run(dsn, migrations, target="1")
    runner = _runner(dsn, migrations)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = query(dsn, "SELECT rows_done FROM dbops.backfill_progress") if query(
                dsn, "SELECT to_regclass('dbops.backfill_progress')") != [(None,)] else []
            if rows and rows[0][0] >= 300:
                break
            time.sleep(0.05)
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait(timeout=30)
    copied_before = query(dsn, "SELECT rows_done, last_key->>'phase' FROM dbops.backfill_progress")[0]
    assert copied_before[1] == "copying" and 300 <= copied_before[0] < ORDERS, copied_before


def test_a_kill_during_the_copy_resumes_after_the_last_batch(pg_db, migrations):
    _kill_during_the_copy(pg_db, migrations)
    # The trigger is still there and keeps the shadow in step: an update, a delete and key changes of rows
    # already copied (1, 150, 200) and of one not copied yet (1900).
    query(pg_db, "UPDATE shop.orders SET total = total + 1 WHERE id = 1; DELETE FROM shop.orders WHERE id = 150; "
                 "UPDATE shop.orders SET id = 200000 WHERE id = 200; "
                 "UPDATE shop.orders SET id = 190000 WHERE id = 1900")
    time.sleep(0.5)  # the killed runner's session ends (client_connection_check_interval)
    result = run(pg_db, migrations)
    assert result.applied == ["2"]
    state = query(pg_db, "SELECT rows_done, last_key->>'phase', (last_key->>'resumes')::int "
                         "FROM dbops.backfill_progress")[0]
    # Each row copied once in all (resumed, not restarted); row 1900 the trigger moved to the shadow itself.
    assert state == (ORDERS - 1, "done", 1)
    log = query(pg_db, "SELECT statement FROM dbops.migration_log WHERE direction = 'backfill' AND status = 'ok'")
    assert "resumed after key" in log[-1][0]
    assert query(pg_db, "SELECT count(*), sum(total) FROM shop.orders") == [
        (ORDERS - 1, ORDERS * (ORDERS + 1) // 2 + 1 - 150)]
    assert query(pg_db, "SELECT id, total FROM shop.orders WHERE id IN (150, 200, 1900, 200000, 190000) "
                        "ORDER BY id") == [(190000, 1900), (200000, 200)]
    assert _leftovers(pg_db) == []


def test_check_mode_plans_the_change_and_creates_nothing(pg_db, migrations):
    write_shop(migrations, total_change())
    run(pg_db, migrations, target="1")
    result = run(pg_db, migrations, check_mode=True)
    planned = result.plan[0]["statements"]["postgres"]
    assert 'CREATE TABLE "shop"."orders__shadow_2" (LIKE "shop"."orders" INCLUDING ALL)' in planned
    assert any(s.startswith("-- swap:") and "shop.big_orders" in s and "lines_order_id_fkey" in s for s in planned)
    assert _leftovers(pg_db) == []
    assert query(pg_db, "SELECT count(*) FROM dbops.backfill_progress") == [(0,)]
    assert column_type(_q(pg_db), "shop.orders", "total") == "integer"


def test_a_rollback_runs_the_revert_online(pg_db, migrations):
    write_shop(migrations, total_change(batch_size=500))
    run(pg_db, migrations)
    assert column_type(_q(pg_db), "shop.orders", "total") == "numeric(14,2)"
    result = run(pg_db, migrations, state="rolled_back", target="1")
    assert result.rolled_back == ["2"]
    assert column_type(_q(pg_db), "shop.orders", "total") == "integer"
    assert query(pg_db, "SELECT count(*), sum(total) FROM shop.orders") == [(ORDERS, ORDERS * (ORDERS + 1) // 2)]
    assert query(pg_db, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'shop.orders'::regclass "
                        "AND attname = 'note'") == [(0,)]
    assert query(pg_db, "SELECT count(*) > 0 FROM shop.big_orders") == [(True,)]
    assert query(pg_db, "SELECT count(*) FROM dbops.backfill_progress") == [(0,)]
    # Without a revert the set cannot be rolled back, and nothing is touched.
    write_set(migrations, "3_label", manifest={"online_change": {"table": "shop.orders",
                                                                 "alter": "ALTER COLUMN label TYPE varchar(40)"}})
    with pytest.raises(Exception, match="old table shop.orders__old_2 already exists"):
        run(pg_db, migrations)  # the first change's old table is still there: a contract set drops it first
    query(pg_db, "DROP TABLE shop.orders__old_2, shop.orders__old_2_r")
    run(pg_db, migrations)
    with pytest.raises(Exception, match="online change of shop.orders has no revert"):
        run(pg_db, migrations, state="rolled_back", target="1")


def test_a_composite_key_with_an_identity_column(pg_db, migrations):
    write_set(migrations, "1_stock", up="""
        CREATE TABLE stock (site int, id int GENERATED ALWAYS AS IDENTITY, qty smallint NOT NULL,
                            PRIMARY KEY (site, id));
        INSERT INTO stock (site, qty) SELECT g % 7, g % 100 FROM generate_series(1, 1000) g;
        """, down="DROP TABLE stock;")
    write_set(migrations, "2_qty", manifest={"online_change": {
        "table": "stock", "alter": ["ALTER COLUMN qty TYPE bigint"], "revert": ["ALTER COLUMN qty TYPE smallint"],
        "batch_size": 37}})
    run(pg_db, migrations, target="1")
    before = query(pg_db, "SELECT site, id, qty FROM stock ORDER BY 1, 2")
    run(pg_db, migrations)
    assert column_type(_q(pg_db), "stock", "qty") == "bigint"
    assert query(pg_db, "SELECT site, id, qty FROM stock ORDER BY 1, 2") == before
    assert query(pg_db, "SELECT batches FROM dbops.backfill_progress") == [(28,)]
    # The identity goes on after the old table's last value, under the original sequence name.
    assert query(pg_db, "INSERT INTO stock (site, qty) VALUES (1, 1) RETURNING id") == [(1001,)]
    assert query(pg_db, "SELECT pg_get_serial_sequence('stock', 'id')") == [("public.stock_id_seq",)]


def test_a_validation_difference_drops_the_shadow_and_leaves_the_table_as_it_was(pg_db, migrations):
    # A volatile expression: the validation computes it again and finds other values than the copy wrote.
    write_shop(migrations, total_change(using={"total": "total + random()"}))
    run(pg_db, migrations, target="1")
    with pytest.raises(Exception, match="the shadow table does not match the original"):
        run(pg_db, migrations)
    assert column_type(_q(pg_db), "shop.orders", "total") == "integer"
    assert _leftovers(pg_db) == []
    assert query(pg_db, "SELECT count(*) FROM dbops.backfill_progress") == [(0,)]
    assert query(pg_db, "SELECT count(*) FROM shop.orders") == [(ORDERS,)]


def test_a_rollback_after_a_kill_during_the_copy_drops_what_the_change_left(pg_db, migrations):
    _kill_during_the_copy(pg_db, migrations)
    time.sleep(0.5)
    result = run(pg_db, migrations, state="rolled_back", target="1")
    assert result.rolled_back == ["2"]
    assert column_type(_q(pg_db), "shop.orders", "total") == "integer"
    assert _leftovers(pg_db) == []
    assert query(pg_db, "SELECT count(*) FROM dbops.backfill_progress") == [(0,)]


def test_a_new_primary_key(pg_db, migrations):
    # LIKE names the shadow's primary key after the shadow: the alter drops it by that name.
    write_set(migrations, "1_accounts", up="""
        CREATE TABLE accounts (id int PRIMARY KEY, region int NOT NULL, name text);
        INSERT INTO accounts SELECT g, g % 5, 'a' || g FROM generate_series(1, 500) g;
        """, down="DROP TABLE accounts;")
    write_set(migrations, "2_key", manifest={"online_change": {
        "table": "accounts", "alter": ["DROP CONSTRAINT accounts__shadow_2_pkey", "ADD PRIMARY KEY (region, id)"],
        "revert": ["DROP CONSTRAINT accounts__shadow_2_r_pkey", "ADD PRIMARY KEY (id)"], "batch_size": 90}})
    run(pg_db, migrations)
    assert query(pg_db, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'accounts'::regclass AND contype = 'p'") == [
        ("accounts_pkey", "PRIMARY KEY (region, id)")]
    assert query(pg_db, "SELECT count(*), sum(id), sum(region) FROM accounts") == [(500, 125250, 1000)]
    run(pg_db, migrations, state="rolled_back", target="1")
    assert query(pg_db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'accounts'::regclass AND contype = 'p'") == [("PRIMARY KEY (id)",)]

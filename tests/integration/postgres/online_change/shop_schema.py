"""The shop the online change tests rewrite: orders (serial key, a view, an incoming foreign key, grants) and the
set that changes orders.total to numeric online."""

from __future__ import annotations

from pathlib import Path

from tests.support.pg_migrations import write_set

ORDERS = 2000

SHOP_UP = f"""
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id serial PRIMARY KEY, total integer NOT NULL, label text);
CREATE INDEX orders_label ON shop.orders (label);
INSERT INTO shop.orders (total, label) SELECT g, 'l' || g FROM generate_series(1, {ORDERS}) g;
CREATE TABLE shop.lines (id bigint PRIMARY KEY, order_id int NOT NULL REFERENCES shop.orders (id));
INSERT INTO shop.lines SELECT g, g FROM generate_series(1, 100) g;
CREATE VIEW shop.big_orders AS SELECT id, total FROM shop.orders WHERE total > 100;
COMMENT ON VIEW shop.big_orders IS 'orders over 100';
"""


def write_shop(migrations: Path, change: dict) -> None:
    write_set(migrations, "1_shop", up=SHOP_UP, down="DROP SCHEMA shop CASCADE;")
    write_set(migrations, "2_total", manifest={"online_change": change})


def total_change(**extra) -> dict:
    return {"table": "shop.orders", "alter": ["ALTER COLUMN total TYPE numeric(14,2)",
                                              "ADD COLUMN note text NOT NULL DEFAULT ''"],
            "using": {"total": "round(total::numeric, 2)"},
            "revert": ["ALTER COLUMN total TYPE integer USING total::integer", "DROP COLUMN note"], **extra}


def column_type(dsn_query, table: str, column: str) -> str:
    return dsn_query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
                     "AND attname = %s", (table, column))[0][0]

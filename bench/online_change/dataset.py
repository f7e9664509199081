"""The table whose column type changes: bench.orders (id, amount integer, note), N rows made by one
INSERT ... SELECT generate_series, then cloned file by file for each contender (bench/backfill/dataset.clone).

What the load does to it is known exactly (every transaction adds 1 to one existing row's amount and inserts
one row with amount 0), so after a contender the row count and sum(amount) tell whether a write was lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

SCHEMA = "bench"
TABLE = "orders"
QUALIFIED = f"{SCHEMA}.{TABLE}"
COLUMN = "amount"
OLD_TYPE = "integer"
NEW_TYPE = "bigint"


@dataclass(frozen=True)
class Contents:
    """What the table holds: how many rows, the sum of the changed column, and that column's type."""

    rows: int
    amount_sum: int
    amount_type: str


def generate(dsn: str, rows: int) -> float:
    """Create and fill the table; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"CREATE TABLE {QUALIFIED} (id bigint NOT NULL, {COLUMN} {OLD_TYPE} NOT NULL,"
                     " note text NOT NULL)")
        conn.execute(f"INSERT INTO {QUALIFIED} (id, {COLUMN}, note) SELECT g, (g::bigint * 7919) %% 100000,"
                     " 'order ' || g FROM generate_series(1, %s) AS g", (rows,))
        # The key index after the load: building it once is much faster than maintaining it row by row.
        conn.execute(f"ALTER TABLE {QUALIFIED} ADD PRIMARY KEY (id)")
        conn.execute(f"VACUUM (FREEZE, ANALYZE) {QUALIFIED}")
    return time.perf_counter() - started


def contents(dsn: str) -> Contents:
    with psycopg.connect(dsn) as conn:
        count, total = conn.execute(f"SELECT count(*), coalesce(sum({COLUMN}), 0) FROM {QUALIFIED}").fetchone()
        kind = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                            "to_regclass(%s) AND attname = %s AND NOT attisdropped", (QUALIFIED, COLUMN)).fetchone()
    return Contents(rows=count, amount_sum=int(total), amount_type=kind[0] if kind else "(no such column)")

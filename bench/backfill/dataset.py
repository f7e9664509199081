"""The table every contender backfills: N rows made by one INSERT ... SELECT generate_series, then cloned.

Each contender gets its own byte-identical copy (CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY copies the
files instead of generating the rows again), so no contender pays for another's dead tuples.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

TABLE = "bench_items"
# The column the backfill fills; added by the migration set (or, for the other contenders, by the same ALTER TABLE).
NEW_COLUMN = "amount_cents"
SET_EXPRESSION = f"{NEW_COLUMN} = amount * 100"
WHERE = f"{NEW_COLUMN} IS NULL"
ADD_COLUMN = f"ALTER TABLE {TABLE} ADD COLUMN {NEW_COLUMN} bigint"


def generate(dsn: str, rows: int) -> float:
    """Create and fill the table; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id bigint NOT NULL, amount integer NOT NULL,"
                     " hits integer NOT NULL DEFAULT 0, note text NOT NULL)")
        conn.execute(f"INSERT INTO {TABLE} (id, amount, note) SELECT g, (g::bigint * 7919) %% 100000, 'item ' || g"
                     " FROM generate_series(1, %s) AS g", (rows,))
        # The key index after the load: building it once is much faster than maintaining it row by row.
        conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
        conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    return time.perf_counter() - started


def clone(admin_dsn: str, template: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)))


def count_pending(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {TABLE} WHERE {NEW_COLUMN} IS DISTINCT FROM amount * 100"
                            ).fetchone()[0]


def checkpoint(dsn: str) -> None:
    """Start each contender with no dirty buffers left by the previous one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")

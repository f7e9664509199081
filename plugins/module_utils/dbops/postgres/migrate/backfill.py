"""Batched backfills by keyset pagination, checkpointed in dbops.backfill_progress.

Each batch is ONE statement: it picks the next rows by key after the checkpoint, updates them and moves the
checkpoint, all in the statement's own transaction. A kill at any moment either keeps the batch and its
checkpoint or neither, so a rerun continues exactly after the last committed batch: every row once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import Backfill
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql


@dataclass
class BackfillStats:
    rows: int = 0
    batches: int = 0
    resumed_from: list[str] | None = None


def _split_name(name: str) -> list[str]:
    parts = []
    for piece in name.split("."):
        piece = piece.strip()
        parts.append(piece[1:-1].replace('""', '"') if piece.startswith('"') else piece.lower())
    return parts


def _column(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def batch_query(backfill: Backfill, batch_size: int, resume: bool) -> Any:
    """The composed batch statement. Named parameters: k0..kN (the last key done, when resuming), version, name.

    The next batch is a key range: (last key, upper], where upper is the key of the batch_size-th row still to
    migrate. The UPDATE then works on that range by the key's index, like a hand-written keyset loop; no row is
    locked twice (no SELECT ... FOR UPDATE) and no join is needed.
    """
    table = sql.Identifier(*_split_name(backfill.table))
    keys = [sql.Identifier(_column(k)) for k in backfill.key]
    key_list = sql.SQL(", ").join(keys)
    key_row = sql.SQL("({})").format(key_list)
    after = sql.SQL("{} > ({})").format(key_row, sql.SQL(", ").join(
        sql.Placeholder(f"k{i}") for i in range(len(keys))))
    # The set and where expressions are SQL written by the migration's author, like postgres.up.sql; a % in them
    # (modulo, LIKE patterns) must not be read as a parameter placeholder.
    user_where = sql.SQL("({})").format(sql.SQL(backfill.where.replace("%", "%%"))) if backfill.where else None
    # The bound is chosen by key alone (an index-only scan of the key), the author's filter applies only in the
    # UPDATE: with the filter in the bound too, every batch read its heap rows twice, and until the new column
    # has statistics the planner could pick a whole-table scan and sort for each batch.
    bound_where = sql.SQL(" WHERE ") + after if resume else sql.SQL("")
    update_conditions = [c for c in (after if resume else None,
                                     sql.SQL("{} <= (SELECT {} FROM upper)").format(key_row, key_list),
                                     user_where) if c is not None]
    return sql.SQL(
        "WITH bound AS (SELECT {keys} FROM {table}{bound_where} ORDER BY {keys} LIMIT {limit}), "
        "upper AS (SELECT {keys} FROM bound ORDER BY {keys_desc} LIMIT 1), "
        "updated AS (UPDATE {table} SET {set} WHERE {update_where} RETURNING 1), "
        "checkpoint AS (UPDATE dbops.backfill_progress SET "
        "last_key = COALESCE((SELECT jsonb_build_array({key_texts}) FROM upper), last_key), "
        "rows_done = rows_done + (SELECT count(*) FROM updated), batches = batches + (SELECT count(*) FROM upper), "
        "updated_at = now() WHERE version = %(version)s AND name = %(name)s RETURNING last_key) "
        "SELECT (SELECT count(*) FROM bound), (SELECT count(*) FROM updated), (SELECT last_key FROM checkpoint)"
    ).format(
        keys=key_list,
        table=table,
        bound_where=bound_where,
        limit=sql.Literal(batch_size),
        keys_desc=sql.SQL(", ").join(sql.SQL("{} DESC").format(k) for k in keys),
        set=sql.SQL(backfill.set.replace("%", "%%")),
        update_where=sql.SQL(" AND ").join(update_conditions),
        key_texts=sql.SQL(", ").join(sql.SQL("{}::text").format(k) for k in keys),
    )


def describe(backfill: Backfill, batch_size: int) -> str:
    """A readable form of the batch statement for plans and the statement log."""
    key = ", ".join(backfill.key)
    where = f" AND ({backfill.where})" if backfill.where else ""
    # Shown to people (plans, the statement log), never executed.
    return (f"-- backfill {backfill.name}: batches of {batch_size} rows by ({key}), each committed with its "  # noqa: S608
            f"checkpoint in dbops.backfill_progress\nUPDATE {backfill.table} SET {backfill.set} WHERE ({key}) > "
            f"(<last key done>) AND ({key}) <= (<key of the {batch_size}th row after it>){where}")


def progress(conn: Any, version: str, name: str) -> tuple[str, list[str] | None, int, int] | None:
    row = conn.execute("SELECT status, last_key, rows_done, batches FROM dbops.backfill_progress "
                       "WHERE version = %s AND name = %s", (version, name)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def run_backfill(conn: Any, version: str, backfill: Backfill, *, batch_size: int,
                 retry: Callable[[Callable[[int], Any]], Any], should_pause: bool = True) -> BackfillStats:
    """Run (or resume) one backfill to the end. `retry` wraps each batch in the lock-timeout retry policy."""
    state = progress(conn, version, backfill.name)
    stats = BackfillStats()
    if state is None:
        conn.execute("INSERT INTO dbops.backfill_progress (version, name, table_name, status) "
                     "VALUES (%s, %s, %s, 'running')", (version, backfill.name, backfill.table))
        last_key = None
    else:
        status, last_key = state[0], state[1]
        if status == "done":
            return stats
        stats.resumed_from = last_key
    first_query = batch_query(backfill, batch_size, resume=False)
    next_query = batch_query(backfill, batch_size, resume=True)
    while True:
        def one_batch(_attempt: int, key=last_key) -> tuple[int, int, list[str] | None]:
            params = {"version": version, "name": backfill.name}
            if key is None:
                return conn.execute(first_query, params).fetchone()
            params.update({f"k{i}": value for i, value in enumerate(key)})
            return conn.execute(next_query, params).fetchone()

        selected, updated, last_key = retry(one_batch)
        if not selected:
            break
        stats.rows += updated
        stats.batches += 1
        if should_pause and backfill.pause_ms:
            time.sleep(backfill.pause_ms / 1000)
    conn.execute("UPDATE dbops.backfill_progress SET status = 'done', updated_at = now() "
                 "WHERE version = %s AND name = %s", (version, backfill.name))
    return stats

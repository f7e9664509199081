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

try:
    from psycopg import sql
except ImportError:  # pragma: no cover
    sql = None


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
    """The composed batch statement; parameters: the last key's values (when resuming), version, name."""
    table_parts = _split_name(backfill.table)
    table = sql.Identifier(*table_parts)
    relname = sql.Identifier(table_parts[-1])
    keys = [sql.Identifier(_column(k)) for k in backfill.key]
    aliases = [sql.Identifier(f"__dbops_k{i}") for i in range(len(keys))]
    conditions = []
    if resume:
        conditions.append(sql.SQL("({}) > ({})").format(sql.SQL(", ").join(keys),
                                                        sql.SQL(", ").join(sql.Placeholder() * len(keys))))
    if backfill.where:
        # The set and where expressions are SQL written by the migration's author, like postgres.up.sql.
        conditions.append(sql.SQL("({})").format(sql.SQL(backfill.where)))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    return sql.SQL(
        "WITH batch AS (SELECT {select_keys} FROM {table}{where} ORDER BY {order} LIMIT {limit} FOR UPDATE), "
        "updated AS (UPDATE {table} SET {set} FROM batch WHERE ({target_keys}) = ({batch_keys}) RETURNING 1), "
        "checkpoint AS (UPDATE dbops.backfill_progress SET "
        "last_key = COALESCE((SELECT jsonb_build_array({key_texts}) FROM batch ORDER BY {order_desc} LIMIT 1), "
        "last_key), rows_done = rows_done + (SELECT count(*) FROM updated), "
        "batches = batches + (SELECT least(count(*), 1) FROM batch), "
        "updated_at = now() WHERE version = {version} AND name = {name} RETURNING last_key) "
        "SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM updated), (SELECT last_key FROM checkpoint)"
    ).format(
        select_keys=sql.SQL(", ").join(sql.SQL("{} AS {}").format(keys[i], aliases[i]) for i in range(len(keys))),
        table=table,
        where=where,
        order=sql.SQL(", ").join(keys),
        limit=sql.Literal(batch_size),
        set=sql.SQL(backfill.set),
        target_keys=sql.SQL(", ").join(sql.SQL("{}.{}").format(relname, k) for k in keys),
        batch_keys=sql.SQL(", ").join(sql.SQL("batch.{}").format(a) for a in aliases),
        key_texts=sql.SQL(", ").join(sql.SQL("{}::text").format(a) for a in aliases),
        order_desc=sql.SQL(", ").join(sql.SQL("{} DESC").format(a) for a in aliases),
        version=sql.Placeholder(),
        name=sql.Placeholder(),
    )


def describe(backfill: Backfill, batch_size: int) -> str:
    """A readable form of the batch statement for plans and the statement log."""
    key = ", ".join(backfill.key)
    where = f" AND ({backfill.where})" if backfill.where else ""
    # Shown to people (plans, the statement log), never executed.
    return (f"-- backfill {backfill.name}: batches of {batch_size} by ({key}), checkpointed in "  # noqa: S608
            f"dbops.backfill_progress\nUPDATE {backfill.table} SET {backfill.set} WHERE ({key}) IN (SELECT {key} "
            f"FROM {backfill.table} WHERE ({key}) > (<last key done>){where} ORDER BY {key} LIMIT {batch_size})")


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
        status, last_key, _, _ = state
        if status == "done":
            return stats
        stats.resumed_from = last_key
    first_query = batch_query(backfill, batch_size, resume=False)
    next_query = batch_query(backfill, batch_size, resume=True)
    while True:
        def one_batch(_attempt: int, key=last_key) -> tuple[int, int, list[str] | None]:
            if key is None:
                return conn.execute(first_query, (version, backfill.name)).fetchone()
            return conn.execute(next_query, (*key, version, backfill.name)).fetchone()

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

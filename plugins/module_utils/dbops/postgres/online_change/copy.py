"""The batched copy of the original's rows into the shadow, by keyset on the original's real primary key.

Each batch is one transaction: the next rows after the last key (row comparison, so composite keys page the
same way), locked FOR SHARE, inserted with the column map's expressions, ON CONFLICT DO NOTHING, and the
checkpoint. FOR SHARE: a row deleted by a transaction that commits after the batch's snapshot is waited for and
skipped, instead of being inserted into the shadow after the trigger already deleted it there (a ghost row).
DO NOTHING: a row already in the shadow was put there by the trigger, from a newer version than the copy read.

The batch's size and the pause after it come from the backfills' pacing (batch_sizer, throttle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.backfill import (
    REPLICA_LAG_QUERY,
    SIGNALS_QUERY,
    Pacing,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.throttle import BatchSignals
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change import state as change_state
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import ColumnMap
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.state import ChangeState


def key_after(columns: ColumnMap, prefix: str = "k") -> sql.Composable:
    """(k1, k2) > (%(k0)s::type, ...): the rows after a key, by the original's primary key's index."""
    return sql.SQL("({}) > ({})").format(
        sql.SQL(", ").join(sql.Identifier(k) for k in columns.original_key),
        sql.SQL(", ").join(sql.SQL("{}::{}").format(sql.Placeholder(f"{prefix}{i}"), sql.SQL(t))
                           for i, t in enumerate(columns.original_key_types)))


def key_text(columns: ColumnMap, alias: str) -> sql.Composable:
    return sql.SQL("jsonb_build_array({})").format(sql.SQL(", ").join(
        sql.SQL("{}.{}::text").format(sql.Identifier(alias), sql.Identifier(k)) for k in columns.original_key))


def order_by(columns: ColumnMap, descending: bool = False) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{}{}").format(sql.Identifier(k), sql.SQL(" DESC" if descending else ""))
                              for k in columns.original_key)


def batch_statement(original: sql.Composable, shadow: sql.Composable, columns: ColumnMap, rows: int, *,
                    resume: bool) -> sql.Composable:
    """(rows read, rows inserted, the last key read as a jsonb array of text) of one batch."""
    where = sql.SQL(" WHERE {}").format(key_after(columns)) if resume else sql.SQL("")
    return sql.SQL(
        "WITH batch AS (SELECT * FROM {original}{where} ORDER BY {order} LIMIT {rows} FOR SHARE), "
        "copied AS (INSERT INTO {shadow} ({names}){overriding} SELECT {values} FROM batch t "
        "ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM copied), "
        "(SELECT {last} FROM batch b ORDER BY {order_desc} LIMIT 1)").format(
        original=original, where=where, order=order_by(columns), rows=sql.Literal(rows), shadow=shadow,
        names=columns.names(), overriding=columns.overriding(), values=columns.expressions(parameters=True),
        last=key_text(columns, "b"), order_desc=order_by(columns, descending=True))


@dataclass
class CopyStats:
    rows: int = 0  # inserted by this run
    batches: int = 0
    lock_timeouts: int = 0
    resumed_from: list[str] | None = None


def copy_rows(conn: Any, version: str, name: str, original: sql.Composable, shadow: sql.Composable,
              columns: ColumnMap, start: ChangeState, *, pacing: Pacing,
              retry: Callable[[Callable[[int], Any], Callable[[int, BaseException, float], None]], Any]
              ) -> tuple[ChangeState, CopyStats]:
    """Copy from start.last_key to the end; returns the state with phase 'copied'."""
    stats = CopyStats(resumed_from=start.last_key)
    current = start
    sizer, throttle = pacing.sizer, pacing.throttle
    while True:
        def one_batch(_attempt: int, at=current) -> tuple[ChangeState, int, BatchSignals, float]:
            params = {f"k{i}": value for i, value in enumerate(at.last_key or ())}
            started = pacing.clock()
            with conn.transaction():
                read, inserted, last = conn.execute(
                    batch_statement(original, shadow, columns, sizer.size, resume=at.last_key is not None),
                    params).fetchone()
                if not read:
                    done = at.at("copied")
                    change_state.write(conn, version, name, done)
                    return done, 0, BatchSignals(), pacing.clock() - started
                moved = at.at("copying", last_key=last, rows=at.rows + inserted, batches=at.batches + 1)
                change_state.write(conn, version, name, moved)
                signals = BatchSignals(*conn.execute(SIGNALS_QUERY).fetchone())
            return moved, read, signals, pacing.clock() - started

        def on_lock_timeout(_attempt: int, _exc: BaseException, _delay: float) -> None:
            stats.lock_timeouts += 1
            sizer.shrink()

        current, read, signals, seconds = retry(one_batch, on_lock_timeout)
        if current.phase == "copied":
            return current, stats
        stats.batches += 1
        stats.rows = current.rows - start.rows
        sizer.observe(read, seconds)
        pause = throttle.after_batch(seconds, signals)
        if pause.shrink:
            sizer.shrink()
        else:
            sizer.recover()
        if pause.seconds > 0:
            pacing.sleep(pause.seconds)
        lag = signals.replica_lag_s
        while (wait := throttle.replica_wait(lag)) > 0:
            pacing.sleep(wait)
            lag = conn.execute(REPLICA_LAG_QUERY).fetchone()[0]

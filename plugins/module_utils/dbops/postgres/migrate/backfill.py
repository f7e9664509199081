"""Batched backfills by keyset pagination, checkpointed in dbops.backfill_progress.

Each batch is ONE statement: it picks the next rows by key after the checkpoint, updates them and moves the
checkpoint. A kill at any moment either keeps the batch and its checkpoint or neither, so a rerun continues
exactly after the last committed batch: every row once.

Before the batch's transaction commits (while it still holds its row locks) one more query asks the server who
is waiting on those locks and how far behind the replicas are; the pacing (batch_sizer, throttle) turns that and
the batch's time into the next batch's size and the pause before it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import Backfill
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.throttle import (
    BatchSignals,
    Throttle,
)

# Sessions waiting on a lock this backend holds: for row locks they wait on its transaction id, until the
# commit. pg_locks (unlike pg_stat_activity) shows every user's sessions to any user. The replicas' replay lag
# needs pg_read_all_stats (or superuser) to be visible; without it the lag reads as NULL and is not waited for.
SIGNALS_QUERY = (
    "WITH blocked AS (SELECT pid, waitstart FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid() "
    "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))) "
    "SELECT (SELECT count(DISTINCT pid) FROM blocked), "
    "(SELECT COALESCE(EXTRACT(epoch FROM clock_timestamp() - min(waitstart)), 0)::float8 FROM blocked), "
    "(SELECT EXTRACT(epoch FROM max(replay_lag))::float8 FROM pg_stat_replication)"
)
REPLICA_LAG_QUERY = "SELECT EXTRACT(epoch FROM max(replay_lag))::float8 FROM pg_stat_replication"
# Each batch commits without waiting for its WAL to be flushed (or to reach a synchronous standby): on a server
# with synchronous_commit on, that wait is a disk flush per batch, which short batches would pay many times over.
# Safe for this backfill: a batch and its checkpoint are one transaction, and WAL is replayed in order, so a crash
# (or a failover) can lose only the last batches together with their checkpoints, and the rerun redoes exactly
# those. No later durable commit can depend on a lost batch: flushing a commit flushes all the WAL before it.
# The 'done' status and the ledger are written with the session's own setting, so a backfill reported finished
# is on disk with all its batches.
BATCH_COMMIT_WITHOUT_FLUSH = "SET LOCAL synchronous_commit = off"


class Sizer(Protocol):
    size: int

    def observe(self, rows: int, seconds: float) -> int: ...

    def shrink(self) -> int: ...

    def recover(self) -> None: ...


@dataclass
class Pacing:
    """How a backfill's batches are sized and spaced."""

    sizer: Sizer
    throttle: Throttle
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep


@dataclass
class BackfillStats:
    rows: int = 0
    batches: int = 0
    resumed_from: list[str] | None = None
    lock_backoffs: int = 0  # batches after which other sessions were found waiting on the batch's locks
    lock_timeouts: int = 0  # batches retried because the backfill itself hit lock_timeout
    replica_waits: int = 0  # lag probes that found a replica too far behind
    sizes: list[int] = field(default_factory=list)  # rows asked for, per batch

    def summary(self) -> str:
        if not self.sizes:
            return "no batch"
        ordered = sorted(self.sizes)
        return (f"{self.batches} batches of {ordered[0]}..{ordered[-1]} rows (median {ordered[len(ordered) // 2]}), "
                f"{self.lock_backoffs} lock backoffs, {self.lock_timeouts} lock timeouts, "
                f"{self.replica_waits} replica lag waits")


def _split_name(name: str) -> list[str]:
    parts = []
    for piece in name.split("."):
        piece = piece.strip()
        parts.append(piece[1:-1].replace('""', '"') if piece.startswith('"') else piece.lower())
    return parts


def _column(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


@dataclass(frozen=True)
class BatchStatements:
    """The composed statements of one batch, run in one transaction: the bound, the UPDATE, the checkpoint.

    The next batch is a key range: (last key, upper], where upper is the key of the n-th row after the last key
    done, found by walking the key's index from there (a keyset step: OFFSET n - 1 counts from the last key
    done, never from the start of the table). The UPDATE then works on that range by the key's index, like a
    hand-written keyset loop; no row is locked twice (no SELECT ... FOR UPDATE) and no join is needed. As
    separate statements the UPDATE's row count comes from its command tag, and nothing is materialised to be
    counted again.

    Parameters: k0..kN the last key done (when resuming), u0..uN the batch's upper key, version and name.
    """

    backfill: Backfill

    def _parts(self) -> tuple[Any, list[Any], Any]:
        table = sql.Identifier(*_split_name(self.backfill.table))
        keys = [sql.Identifier(_column(k)) for k in self.backfill.key]
        return table, keys, sql.SQL("({})").format(sql.SQL(", ").join(keys))

    def _after(self, prefix: str) -> Any:
        return sql.SQL("({})").format(sql.SQL(", ").join(
            sql.Placeholder(f"{prefix}{i}") for i in range(len(self.backfill.key))))

    def _key_scan(self, *, resume: bool, descending: bool = False) -> Any:
        """SELECT the keys as text FROM the table after the last key done, in key order."""
        table, keys, key_row = self._parts()
        # ORDER BY names the table's columns qualified: a bare name would be the output column of the same name,
        # the key as text, and order 10 before 9.
        order = sql.SQL(", ").join(
            sql.SQL("{}{}").format(sql.Identifier(*_split_name(self.backfill.table), _column(k)),
                                   sql.SQL(" DESC") if descending else sql.SQL(""))
            for k in self.backfill.key)
        # By key alone (an index-only scan of the key); the author's filter applies only in the UPDATE: with the
        # filter in the bound too, every batch read its heap rows twice, and until the new column has statistics
        # the planner could pick a whole-table scan and sort for each batch.
        where = sql.SQL(" WHERE {} > {}").format(key_row, self._after("k")) if resume else sql.SQL("")
        return sql.SQL("SELECT {key_texts} FROM {table}{where} ORDER BY {order}").format(
            key_texts=sql.SQL(", ").join(sql.SQL("{}::text").format(k) for k in keys), table=table, where=where,
            order=order)

    def bound(self, rows: int, *, resume: bool) -> Any:
        """The upper key (as text) of the next `rows` keys; no row when fewer are left (see tail). Skipping
        rows - 1 index entries is about three times cheaper than numbering them all to keep the last."""
        return sql.SQL("{} OFFSET {} LIMIT 1").format(self._key_scan(resume=resume), sql.Literal(rows - 1))

    def tail(self, *, resume: bool) -> Any:
        """The last key (as text) and how many keys are left, for the last batch; no row when none is."""
        table, _keys, key_row = self._parts()
        left = sql.SQL("SELECT count(*) FROM {}{}").format(
            table, sql.SQL(" WHERE {} > {}").format(key_row, self._after("k")) if resume else sql.SQL(""))
        scan = self._key_scan(resume=resume, descending=True)
        return sql.SQL("SELECT *, ({left}) FROM ({scan} LIMIT 1) AS tail").format(left=left, scan=scan)

    def update(self, *, resume: bool) -> Any:
        table, _keys, key_row = self._parts()
        conditions = [sql.SQL("{} > {}").format(key_row, self._after("k"))] if resume else []
        conditions.append(sql.SQL("{} <= {}").format(key_row, self._after("u")))
        if self.backfill.where:
            # The set and where expressions are SQL written by the migration's author, like postgres.up.sql; a %
            # in them (modulo, LIKE patterns) must not be read as a parameter placeholder.
            conditions.append(sql.SQL("({})").format(sql.SQL(self.backfill.where.replace("%", "%%"))))
        return sql.SQL("UPDATE {table} SET {set} WHERE {conditions}").format(
            table=table, set=sql.SQL(self.backfill.set.replace("%", "%%")),
            conditions=sql.SQL(" AND ").join(conditions))

    @staticmethod
    def checkpoint() -> str:
        return ("UPDATE dbops.backfill_progress SET last_key = %(last_key)s::jsonb, "
                "rows_done = rows_done + %(updated)s, batches = batches + 1, updated_at = now() "
                "WHERE version = %(version)s AND name = %(name)s")


def describe(backfill: Backfill, sizing: str) -> str:
    """A readable form of the batch statement for plans and the statement log; `sizing` says how many rows."""
    key = ", ".join(backfill.key)
    where = f" AND ({backfill.where})" if backfill.where else ""
    # Shown to people (plans, the statement log), never executed.
    return (f"-- backfill {backfill.name}: {sizing} by ({key}), each committed with its "  # noqa: S608
            f"checkpoint in dbops.backfill_progress\nUPDATE {backfill.table} SET {backfill.set} WHERE ({key}) > "
            f"(<last key done>) AND ({key}) <= (<key of the last row of the batch>){where}")


def progress(conn: Any, version: str, name: str) -> tuple[str, list[str] | None, int, int] | None:
    row = conn.execute("SELECT status, last_key, rows_done, batches FROM dbops.backfill_progress "
                       "WHERE version = %s AND name = %s", (version, name)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def run_backfill(conn: Any, version: str, backfill: Backfill, *, pacing: Pacing,
                 retry: Callable[[Callable[[int], Any], Callable[[int, BaseException, float], None]], Any],
                 should_pause: bool = True) -> BackfillStats:
    """Run (or resume) one backfill to the end. `retry(work, on_retry)` wraps each batch in the lock-timeout
    retry policy; on_retry makes the batch smaller before the next attempt."""
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
    statements = _StatementCache(BatchStatements(backfill))
    sizer, throttle = pacing.sizer, pacing.throttle
    while True:
        def one_batch(_attempt: int, key=last_key) -> tuple[int, int, list[str] | None, BatchSignals, float]:
            params: dict[str, Any] = {"version": version, "name": backfill.name}
            params.update({f"k{i}": value for i, value in enumerate(key or ())})
            size = sizer.size
            stats.sizes.append(size)
            started = pacing.clock()
            # One transaction: the batch, its checkpoint, and the look at who waits on its row locks (they wait
            # until the commit). A kill at any point keeps all of it or none. In a pipeline: BEGIN goes with the
            # bound, the checkpoint and the look with the COMMIT, three round trips instead of one per statement;
            # on a busy server each one can mean waiting for a CPU, and short batches pay that many times over.
            with conn.pipeline() as pipeline, conn.transaction():
                conn.execute(BATCH_COMMIT_WITHOUT_FLUSH)
                resume = key is not None
                bound = conn.execute(statements.bound(size, resume=resume), params).fetchone()
                selected = size
                if bound is None:
                    tail = conn.execute(statements.tail(resume=resume), params).fetchone()
                    if tail is None:
                        return 0, 0, key, BatchSignals(), pacing.clock() - started
                    bound, selected = tail[:-1], tail[-1]
                upper = list(bound)
                params.update({f"u{i}": value for i, value in enumerate(upper)})
                update = conn.execute(statements.update(resume=resume), params)
                pipeline.sync()  # its row count, for the checkpoint
                updated = update.rowcount
                conn.execute(BatchStatements.checkpoint(),
                             {**params, "last_key": json.dumps(upper), "updated": updated})
                probe = conn.execute(SIGNALS_QUERY)
            # Run before the commit, read after it.
            signals = BatchSignals(*probe.fetchone())
            return selected, updated, upper, signals, pacing.clock() - started

        def on_lock_timeout(_attempt: int, _exc: BaseException, _delay: float) -> None:
            stats.lock_timeouts += 1
            sizer.shrink()

        selected, updated, last_key, signals, seconds = retry(one_batch, on_lock_timeout)
        if not selected:
            break
        stats.rows += updated
        stats.batches += 1
        sizer.observe(selected, seconds)
        pause = throttle.after_batch(seconds, signals)
        if pause.shrink:
            stats.lock_backoffs += 1
            sizer.shrink()
        else:
            sizer.recover()
        if should_pause:
            _wait(conn, pacing, stats, pause.seconds, signals.replica_lag_s)
    conn.execute("UPDATE dbops.backfill_progress SET status = 'done', updated_at = now() "
                 "WHERE version = %s AND name = %s", (version, backfill.name))
    return stats


def _wait(conn: Any, pacing: Pacing, stats: BackfillStats, seconds: float, lag_s: float | None) -> None:
    """The pause the throttle asked for, then more while a replica is too far behind (probed again each time)."""
    if seconds > 0:
        pacing.sleep(seconds)
    while (wait := pacing.throttle.replica_wait(lag_s)) > 0:
        stats.replica_waits += 1
        pacing.sleep(wait)
        lag_s = conn.execute(REPLICA_LAG_QUERY).fetchone()[0]


class _StatementCache:
    """Composed statements, the bounds by (rows, resume): the row count is a literal, so that each bound gets the
    plan for its own OFFSET; an adaptive backfill uses a few dozen distinct sizes at most."""

    def __init__(self, statements: BatchStatements) -> None:
        self.statements = statements
        self.bounds: dict[tuple[int, bool], Any] = {}
        self.updates = {resume: statements.update(resume=resume) for resume in (False, True)}
        self.tails = {resume: statements.tail(resume=resume) for resume in (False, True)}

    def bound(self, rows: int, *, resume: bool) -> Any:
        key = (rows, resume)
        if key not in self.bounds:
            if len(self.bounds) > 256:
                self.bounds.clear()
            self.bounds[key] = self.statements.bound(rows, resume=resume)
        return self.bounds[key]

    def tail(self, *, resume: bool) -> Any:
        return self.tails[resume]

    def update(self, *, resume: bool) -> Any:
        return self.updates[resume]

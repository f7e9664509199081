"""The ways of filling the new column of every row: sevenp.dbops' declared backfill, one single UPDATE, and a
bare keyset loop in psycopg (what a batched backfill costs without any engine around it).

Each starts from the table without the column and ends with every row migrated; each is timed as a whole
(the ALTER TABLE that adds the column included, it takes milliseconds).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from psycopg.rows import dict_row

from bench.backfill.dataset import ADD_COLUMN, NEW_COLUMN, SET_EXPRESSION, TABLE, WHERE


@dataclass
class Outcome:
    seconds: float
    rows: int
    lock_held_s: float | None = None  # the single UPDATE: how long its transaction held the row locks
    batches: int | None = None
    stopped: str | None = None  # why the run did not finish (it was stopped after --max-seconds)
    batch_times: str | None = None  # the engine: how long its batch statements took (first, median, max)
    pacing: str | None = None  # the engine: its batch sizes, lock backoffs and replica waits


class BatchTimer:
    """Times the engine's batches from the outside (by wrapping psycopg's Cursor.execute for the run), from the
    first statement of a batch's transaction to its last before the commit, so a slow backfill shows whether
    every batch is slow or only some (a plan that scans the whole table)."""

    # A batch opens with the SET LOCAL of its commit mode and ends with the look at who waits on its locks (sent in
    # one pipeline with the COMMIT: its execute returns when it is queued, so the commit is not in the time).
    FIRST = "synchronous_commit"
    LAST = "pg_blocking_pids"

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._original = None
        self._started: float | None = None

    def __enter__(self) -> BatchTimer:
        original = self._original = psycopg.Cursor.execute
        timer = self

        def execute(cursor, query, *args, **kwargs):
            text = query if isinstance(query, str) else repr(query)
            if timer.FIRST in text:
                timer._started = time.perf_counter()
            try:
                return original(cursor, query, *args, **kwargs)
            finally:
                if timer.LAST in text and timer._started is not None:
                    timer.seconds.append(time.perf_counter() - timer._started)
                    timer._started = None

        psycopg.Cursor.execute = execute
        return self

    def __exit__(self, *_exc) -> None:
        psycopg.Cursor.execute = self._original

    def summary(self) -> str | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        return (f"{len(ordered)} batches: first {self.seconds[0]:.3f} s, median "
                f"{ordered[len(ordered) // 2]:.3f} s, max {ordered[-1]:.3f} s, "
                f"slowest 10 together {sum(ordered[-10:]):.1f} s")


class Deadline:
    """Stops a contender that runs longer than allowed by terminating its server sessions (not pgbench's), so one
    pathological run still leaves a finished benchmark with a partial rows/s."""

    def __init__(self, admin_dsn: str, dbname: str, seconds: float) -> None:
        self.admin_dsn = admin_dsn
        self.dbname = dbname
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                         " AND application_name <> 'pgbench' AND pid <> pg_backend_pid()", (self.dbname,))

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._timer.cancel()


def write_migration_set(root: Path, pacing: dict) -> Path:
    """One native set: postgres.up.sql adds the column, migration.yml declares the backfill that fills it, with
    `pacing` (batch_size, batch_time, pause_ms, pause_ratio) as its batching keys."""
    set_dir = root / "0001_add_amount_cents"
    set_dir.mkdir(parents=True)
    manifest = {
        "description": "add amount_cents and fill it from amount",
        "backfill": [{"name": NEW_COLUMN, "table": f"public.{TABLE}", "key": "id", "set": SET_EXPRESSION,
                      "where": WHERE, **pacing}],
    }
    (set_dir / "migration.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    (set_dir / "postgres.up.sql").write_text(ADD_COLUMN + ";\n")
    (set_dir / "postgres.down.sql").write_text(f"ALTER TABLE {TABLE} DROP COLUMN {NEW_COLUMN};\n")
    return root


def engine_backfill(dsn: str, migrations_dir: Path, deadline: Deadline) -> Outcome:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine

    stopped = None
    started = time.perf_counter()
    with deadline, BatchTimer() as timer:
        try:
            result = engine.run(engine.RunRequest(migrations_dir=str(migrations_dir), state="applied",
                                                  target="latest", postgres_dsn=dsn))
        except DbopsError as exc:
            if not deadline.fired:
                raise
            stopped = f"stopped after the time limit: {exc}"
    elapsed = time.perf_counter() - started
    if stopped is None and list(result.applied) != ["0001"]:
        raise RuntimeError(f"engine applied {result.applied!r}, expected ['0001']")
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        progress = conn.execute("SELECT * FROM dbops.backfill_progress").fetchone()
        # The engine's own account of its batches (sizes, lock backoffs), the last line of its log entry.
        logged = conn.execute("SELECT statement FROM dbops.migration_log WHERE direction = 'backfill' "
                              "ORDER BY id DESC LIMIT 1").fetchone()
    pacing = logged["statement"].splitlines()[-1].lstrip("- ") if logged else None
    return Outcome(seconds=elapsed, rows=progress["rows_done"],
                   batches=progress.get("batches", progress.get("batches_done")), stopped=stopped,
                   batch_times=timer.summary(), pacing=pacing)


def single_update(dsn: str) -> Outcome:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(ADD_COLUMN)
        locked_from = time.perf_counter()
        with conn.transaction():
            rows = conn.execute(f"UPDATE {TABLE} SET {SET_EXPRESSION} WHERE {WHERE}").rowcount
        ended = time.perf_counter()
    return Outcome(seconds=ended - started, rows=rows, lock_held_s=ended - locked_from, batches=1)


def keyset_loop(dsn: str, batch_size: int, pause_ms: int) -> Outcome:
    """Batches by key, each committed with a progress row in the same transaction, as a resumable backfill must."""
    rows = batches = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(ADD_COLUMN)
        conn.execute("CREATE TABLE bench_progress (name text PRIMARY KEY, last_key bigint, rows_done bigint)")
        last: int | None = None
        while True:
            with conn.transaction():
                if last is None:
                    upper = conn.execute(f"SELECT max(id) FROM (SELECT id FROM {TABLE} ORDER BY id LIMIT %s) AS b",
                                         (batch_size,)).fetchone()[0]
                else:
                    upper = conn.execute(f"SELECT max(id) FROM (SELECT id FROM {TABLE} WHERE id > %s"
                                         " ORDER BY id LIMIT %s) AS b", (last, batch_size)).fetchone()[0]
                if upper is None:
                    break
                lower_clause = "" if last is None else "id > %(last)s AND "
                rows += conn.execute(f"UPDATE {TABLE} SET {SET_EXPRESSION} WHERE {lower_clause}id <= %(upper)s"
                                     f" AND ({WHERE})", {"last": last, "upper": upper}).rowcount
                conn.execute("INSERT INTO bench_progress VALUES ('b', %s, %s) ON CONFLICT (name) DO UPDATE"
                             " SET last_key = excluded.last_key, rows_done = excluded.rows_done", (upper, rows))
            batches += 1
            last = upper
            if pause_ms:
                time.sleep(pause_ms / 1000)
        elapsed = time.perf_counter() - started
    return Outcome(seconds=elapsed, rows=rows, batches=batches)

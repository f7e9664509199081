"""A small, bounded write load on both databases for the disaster-recovery drill.

Two writers (one per database) insert numbered rows / documents, one per commit, at a bounded rate, and append an
acknowledgement for each commit the database confirmed (see acknowledgements.py). The load stops when a stop file
appears, after max_seconds, or after max_writes per database, whichever comes first; then it writes a status file
with its summary. Every row and document carries the drill's run id, so reruns of the drill on the same databases
never mix.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.acknowledgements import (
    MONGODB,
    POSTGRES,
    Ack,
    AckLog,
    Failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection as mongodb_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres import connection as postgres_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg, sql

try:
    import pymongo
except ImportError:  # pragma: no cover
    pymongo = None  # type: ignore[assignment]

# A writer reconnects after a failure with this shorter timeout, so an outage costs little of the load's time.
WRITER_CONNECT_TIMEOUT_S = 5

# A write that fails is retried after this pause (the load keeps going through a short outage).
RETRY_PAUSE_S = 0.5
PAYLOAD = "x" * 64


@dataclass
class LoadSpec:
    run_id: str
    work_dir: str
    databases: DatabaseConnections = field(default_factory=DatabaseConnections)
    table: str = "dbops_drill_writes"
    collection: str = "dbops_drill_writes"
    interval_s: float = 0.01
    max_seconds: float = 300.0
    max_writes: int = 100_000

    @property
    def ack_log(self) -> Path:
        return Path(self.work_dir) / "acks.jsonl"

    @property
    def stop_file(self) -> Path:
        return Path(self.work_dir) / "stop"

    @property
    def status_file(self) -> Path:
        return Path(self.work_dir) / "status.json"


@dataclass
class WriterSummary:
    db: str
    acknowledged: int = 0
    failed: int = 0
    first_acked_at: float | None = None
    last_acked_at: float | None = None
    last_error: str | None = None


@dataclass
class LoadSummary:
    run_id: str
    started_at: float
    finished_at: float | None = None
    stopped_by: str = ""
    writers: dict[str, WriterSummary] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def table_identifier(table: str):
    """'name' or 'schema.name' as a safely quoted identifier."""
    return sql.Identifier(*table.split(".", 1))


def require_drivers(spec: LoadSpec) -> None:
    databases = spec.databases
    if databases.postgres_dsn and psycopg is None:
        raise DbopsError("the drill's PostgreSQL writer needs the Python package psycopg (3.x)")
    if databases.mongodb_uri and pymongo is None:
        raise DbopsError("the drill's MongoDB writer needs the Python package pymongo")
    if databases.mongodb_uri and not databases.mongodb_database:
        raise DbopsError("the drill's MongoDB writer needs mongodb_database")
    if not databases.postgres_dsn and not databases.mongodb_uri:
        raise DbopsError("the drill's write load needs postgres_dsn, mongodb_uri or both")


def prepare_postgres(spec: LoadSpec) -> None:
    """The drill's table (kept across runs: rows are keyed by run id)."""
    with postgres_connection.connected(spec.databases.require_postgres(), "preparing the drill's table") as conn:
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, seq bigint NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text,"
            " PRIMARY KEY (run_id, seq))").format(table_identifier(spec.table)))


class WriteLoad:
    """Runs both writers in threads until stopped; everything acknowledged is in the ack log."""

    def __init__(self, spec: LoadSpec) -> None:
        require_drivers(spec)
        self.spec = spec
        self.log = AckLog(spec.ack_log)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = ""
        self._deadline = 0.0
        self.summary = LoadSummary(run_id=spec.run_id, started_at=time.time())

    # -- control
    def _should_stop(self, written: int) -> str:
        """Why this writer should stop now ('' = keep writing); the first reason found stops both writers."""
        if not self._stop.is_set():
            reason = ""
            if self.spec.stop_file.exists():
                reason = "stop file"
            elif time.monotonic() >= self._deadline:
                reason = "max_seconds"
            elif written >= self.spec.max_writes:
                reason = "max_writes"
            if not reason:
                return ""
            with self._lock:
                if not self._stop.is_set():
                    self._stop_reason = reason
                    self._stop.set()
        return self._stop_reason

    def _ack(self, summary: WriterSummary, ack: Ack) -> None:
        with self._lock:
            self.log.record_ack(ack)
        summary.acknowledged += 1
        summary.first_acked_at = summary.first_acked_at or ack.acked_at
        summary.last_acked_at = ack.acked_at

    def _fail(self, summary: WriterSummary, failure: Failure) -> None:
        with self._lock:
            self.log.record_failure(failure)
        summary.failed += 1
        summary.last_error = failure.error

    # -- writers
    def _write_loop(self, summary: WriterSummary, db: str, write_one: Callable[[int], tuple[float, dict]],
                    failures: tuple[type[BaseException], ...], after_failure: Callable[[], None]) -> str:
        """Numbered writes until told to stop; write_one(seq) -> (acked_at, the Ack's position fields). A failed
        write is logged and retried after a pause (the load keeps going through an outage)."""
        seq = 0
        while True:
            reason = self._should_stop(seq)
            if reason:
                return reason
            seq += 1
            sent_at = time.time()
            try:
                acked_at, marks = write_one(seq)
            except failures as exc:
                self._fail(summary, Failure(db, seq, sent_at, str(exc).strip()[:500]))
                after_failure()
                time.sleep(RETRY_PAUSE_S)
                continue
            self._ack(summary, Ack(db, seq, sent_at, acked_at, **marks))
            time.sleep(self.spec.interval_s)

    def _postgres_writer(self, summary: WriterSummary) -> str:
        insert = sql.SQL("INSERT INTO {} (run_id, seq, payload) VALUES (%s, %s, %s)"
                         " RETURNING pg_current_wal_insert_lsn()::text").format(table_identifier(self.spec.table))
        dsn = self.spec.databases.require_postgres()
        conn = None

        def write_one(seq: int) -> tuple[float, dict]:
            nonlocal conn
            if conn is None or conn.closed:
                conn = postgres_connection.connect(dsn, connect_timeout=WRITER_CONNECT_TIMEOUT_S)
            # Autocommit: the commit record is written after the RETURNING value was read and before the statement
            # returns; the next read is after it.
            lsn_before = conn.execute(insert, (self.spec.run_id, seq, PAYLOAD)).fetchone()[0]
            acked_at = time.time()
            lsn_after = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
            return acked_at, {"lsn_before": lsn_before, "lsn_after": lsn_after}

        def drop_connection() -> None:
            nonlocal conn
            if conn is not None:
                conn.close()
            conn = None

        try:
            return self._write_loop(summary, POSTGRES, write_one, (psycopg.Error, ConnectionFailed), drop_connection)
        finally:
            drop_connection()

    def _mongodb_writer(self, summary: WriterSummary) -> str:
        uri, database = self.spec.databases.require_mongodb()
        client = mongodb_connection.connect(uri, timeout_ms=WRITER_CONNECT_TIMEOUT_S * 1000)
        collection = client[database][self.spec.collection]

        def write_one(seq: int) -> tuple[float, dict]:
            with client.start_session(causal_consistency=True) as session:
                collection.insert_one({"_id": f"{self.spec.run_id}:{seq}", "run_id": self.spec.run_id, "seq": seq,
                                       "payload": PAYLOAD}, session=session)
                # The server's operationTime for a write is the oplog timestamp of that write.
                op_time = session.operation_time
            acked_at = time.time()
            return acked_at, {"op_time": (op_time.time, op_time.inc) if op_time is not None else None}

        try:
            return self._write_loop(summary, MONGODB, write_one, (pymongo.errors.PyMongoError,), lambda: None)
        finally:
            client.close()

    def _run_writer(self, name: str, target, reasons: dict[str, str]) -> None:
        summary = self.summary.writers[name]
        try:
            reasons[name] = target(summary)
        except Exception as exc:  # noqa: BLE001 - a writer that dies stops the load; the summary says why
            summary.last_error = f"{type(exc).__name__}: {exc}"
            reasons[name] = f"{name} writer failed"
            with self._lock:
                self._stop_reason = self._stop_reason or reasons[name]
                self._stop.set()

    def run(self) -> LoadSummary:
        Path(self.spec.work_dir).mkdir(parents=True, exist_ok=True)
        self.spec.status_file.unlink(missing_ok=True)
        if self.spec.databases.postgres_dsn:
            prepare_postgres(self.spec)
        self._deadline = time.monotonic() + self.spec.max_seconds
        writers = []
        if self.spec.databases.postgres_dsn:
            writers.append((POSTGRES, self._postgres_writer))
        if self.spec.databases.mongodb_uri:
            writers.append((MONGODB, self._mongodb_writer))
        reasons: dict[str, str] = {}
        self.log.open_for_append()
        try:
            threads = []
            for name, target in writers:
                self.summary.writers[name] = WriterSummary(db=name)
                thread = threading.Thread(target=self._run_writer, args=(name, target, reasons), daemon=True)
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
        finally:
            self.log.close()
        self.summary.finished_at = time.time()
        self.summary.stopped_by = ", ".join(sorted(set(reasons.values()))) or "stop"
        write_status(self.spec, self.summary)
        return self.summary


def write_status(spec: LoadSpec, summary: LoadSummary) -> None:
    tmp = spec.status_file.with_name(spec.status_file.name + ".tmp")
    tmp.write_text(json.dumps(summary.as_dict()))
    os.replace(tmp, spec.status_file)


def read_status(spec: LoadSpec) -> dict | None:
    try:
        return json.loads(spec.status_file.read_text())
    except (OSError, ValueError):
        return None


def request_stop(spec: LoadSpec) -> None:
    Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
    spec.stop_file.touch()


def wait_for_writes(spec: LoadSpec, count: int, since: float = 0.0, timeout_s: float = 120.0,
                    poll_s: float = 0.1) -> dict[str, int]:
    """Block until every enabled writer has count acknowledgements at or after since (epoch seconds)."""
    enabled = [db for db, on in ((POSTGRES, spec.databases.postgres_dsn), (MONGODB, spec.databases.mongodb_uri)) if on]
    deadline = time.monotonic() + timeout_s
    log = AckLog(spec.ack_log)
    counts: dict[str, int] = {}
    while True:
        counts = log.count_since(since)
        if all(counts.get(db, 0) >= count for db in enabled):
            return counts
        status = read_status(spec)
        if status is not None and status.get("finished_at") and status["finished_at"] >= since:
            raise DbopsError(f"the drill's write load stopped ({status.get('stopped_by')}) after "
                             f"{counts} acknowledged writes, before {count} per database were reached",
                             path=str(spec.status_file))
        if time.monotonic() > deadline:
            raise DbopsError(f"only {counts} acknowledged writes since {since:.3f} after {timeout_s:.0f}s, "
                             f"waiting for {count} per database", path=str(spec.ack_log))
        time.sleep(poll_s)


def wait_stopped(spec: LoadSpec, timeout_s: float = 60.0, poll_s: float = 0.1) -> dict:
    """Ask the load to stop and wait for its status file."""
    request_stop(spec)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = read_status(spec)
        if status is not None:
            return status
        time.sleep(poll_s)
    raise DbopsError(f"the drill's write load did not stop within {timeout_s:.0f}s", path=str(spec.status_file))

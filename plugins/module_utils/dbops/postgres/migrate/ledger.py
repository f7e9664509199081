"""The PostgreSQL ledger in schema dbops: what was applied, every statement run, and resumable progress.

Created on the first run that changes something; reading it never creates it (check mode creates nothing). Its
tables are created and upgraded by ledger_layout.py; every write here goes through ledger_write.write, which
redacts every text before it is stored.
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import LedgerEntry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger_layout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.ledger_write import write
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.pipelined import pipelined

SCHEMA = "dbops"

_HOST = socket.gethostname()


@dataclass
class LogEntry:
    """One statement run, for dbops.migration_log."""

    version: str
    direction: str
    seq: int
    statement: str
    status: str
    started_at: datetime
    duration_ms: float
    attempt: int = 1
    error: str | None = None


def ledger_exists(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass('dbops.schema_migrations') IS NOT NULL, "
                       "to_regclass('dbops.statement_progress') IS NOT NULL").fetchone()
    return bool(row[0] and row[1])


def statement_sha(text: str) -> str:
    """Fingerprint of a statement's original text (progress rows, log rows): the stored text is redacted."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def ensure_ledger(conn: Any) -> list[int]:
    """Create or upgrade the ledger to the latest layout (the caller holds the runner lock, so two runners never
    race here); returns the layout versions it applied."""
    return ledger_layout.upgrade(conn)


def read_ledger(conn: Any) -> dict[str, LedgerEntry]:
    """Refuses a ledger with a layout newer than this code; reads older layouts as they are."""
    ledger_layout.refuse_newer(ledger_layout.current_version(conn))
    if not ledger_exists(conn):
        return {}
    rows = conn.execute(
        "SELECT version, status, checksum, name, started_at, finished_at, duration_ms, error "
        "FROM dbops.schema_migrations").fetchall()
    return {
        r[0]: LedgerEntry(version=r[0], status=r[1], checksum=r[2], name=r[3],
                          started_at=to_iso(r[4]),
                          finished_at=to_iso(r[5]), duration_ms=r[6], error=r[7])
        for r in rows
    }


_UPSERT = """
INSERT INTO dbops.schema_migrations AS m (version, name, checksum, status, started_at, finished_at, duration_ms,
                                           applied_from, run_id, error)
VALUES (%(version)s, %(name)s, %(checksum)s, %(status)s, COALESCE(%(started_at)s, now()),
        CASE WHEN %(finished)s THEN now() END, %(duration_ms)s, %(host)s, %(run_id)s, %(error)s)
ON CONFLICT (version) DO UPDATE SET
    name = EXCLUDED.name, checksum = EXCLUDED.checksum, status = EXCLUDED.status,
    started_at = CASE WHEN %(keep_started)s THEN m.started_at ELSE EXCLUDED.started_at END,
    finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, applied_by = current_user,
    applied_from = EXCLUDED.applied_from, run_id = EXCLUDED.run_id, error = EXCLUDED.error
"""

# One row per statement, scalars: psycopg binds scalars in C, arrays (one unnest for all rows) in Python, which costs
# more than the insert itself for the one or two rows of a small set.
_INSERT_LOG = """
INSERT INTO dbops.migration_log (run_id, version, direction, seq, statement, status, attempt, started_at,
                                 duration_ms, error, statement_sha)
VALUES (%s, %s, %s, %s::int, %s, %s, %s::int, %s::timestamptz, %s::float8, %s, %s)
"""


def _status_params(*, version: str, name: str, checksum: str, status: str, run_id: str, error: str | None,
                   duration_ms: int | None, started_at: datetime | None, finished: bool,
                   keep_started: bool) -> dict[str, Any]:
    return {
        "version": version, "name": name, "checksum": checksum, "status": status, "started_at": started_at,
        "finished": finished, "duration_ms": duration_ms, "host": _HOST, "run_id": run_id, "error": error,
        "keep_started": keep_started,
    }


def record_status(conn: Any, *, version: str, name: str, checksum: str, status: str, run_id: str,
                  error: str | None = None, duration_ms: int | None = None, started_at: datetime | None = None,
                  finished: bool = False, keep_started: bool = False) -> None:
    write(conn, _UPSERT, _status_params(
        version=version, name=name, checksum=checksum, status=status, run_id=run_id, error=error,
        duration_ms=duration_ms, started_at=started_at, finished=finished, keep_started=keep_started))


def record_log_and_commit(conn: Any, entries: list[LogEntry], *, version: str, name: str, checksum: str,
                          status: str, run_id: str, duration_ms: int | None = None, keep_started: bool = False) -> None:
    """Status row, statement log and COMMIT, queued behind the part's statements in its pipeline: one round trip.

    Per set this is the engine's only overhead over the statements themselves; hundreds of small sets notice. The
    texts are fixed (server-side binding), so psycopg prepares them on the server after a few sets: parsed and
    planned once, not once per set. Not prepare=True from the first set on: in pipeline mode psycopg (3.3) can
    queue a new statement's Parse before the DEALLOCATE ALL it sends after an ALTER or DROP result, and the
    statement is gone when the next set uses it. If a write fails, the server skips the COMMIT queued behind it
    and the caller rolls back.
    """
    record_status(conn, version=version, name=name, checksum=checksum, status=status, run_id=run_id,
                  duration_ms=duration_ms, finished=True, keep_started=keep_started)
    _queue_log_rows(conn, run_id, entries)
    conn.execute("COMMIT")


def set_error(conn: Any, version: str, error: str) -> None:
    """Keep the status (e.g. a failed down leaves the set applied) but record the error."""
    write(conn, "UPDATE dbops.schema_migrations SET error = %s WHERE version = %s", (error, version))


def set_status(conn: Any, version: str, status: str, error: str | None) -> bool:
    """Status and error of an existing row; False when the ledger has no row for the version."""
    return bool(write(conn, "UPDATE dbops.schema_migrations SET status = %s, error = %s WHERE version = %s",
                      (status, error, version)).rowcount)


def write_log(conn: Any, run_id: str, entries: list[LogEntry]) -> None:
    """Statement log rows, in one round trip."""
    if not entries:
        return
    with pipelined(conn):
        _queue_log_rows(conn, run_id, entries)


def _queue_log_rows(conn: Any, run_id: str, entries: list[LogEntry]) -> None:
    for e in entries:
        write(conn, _INSERT_LOG, (run_id, e.version, e.direction, e.seq, e.statement, e.status, e.attempt,
                                  e.started_at, e.duration_ms, e.error, statement_sha(e.statement)))


# ---- statement progress (parts run as segments) ------------------------------------------------------------------

@dataclass
class ProgressRow:
    seq: int
    statement_sha: str
    status: str  # running | done
    invalid_before: list[int] | None


def read_progress(conn: Any, version: str, direction: str) -> dict[int, ProgressRow]:
    if not ledger_exists(conn):
        return {}
    rows = conn.execute("SELECT seq, statement_sha, status, invalid_before FROM dbops.statement_progress "
                        "WHERE version = %s AND direction = %s", (version, direction)).fetchall()
    return {r[0]: ProgressRow(r[0], r[1], r[2], r[3]) for r in rows}


def mark_progress(conn: Any, version: str, direction: str, rows: list[tuple[int, str]], status: str,
                  invalid_before: list[int] | None = None) -> None:
    """Upsert progress rows (seq, statement sha); called inside the segment's transaction for 'done'."""
    if not rows:
        return
    write(
        conn,
        "INSERT INTO dbops.statement_progress (version, direction, seq, statement_sha, status, invalid_before) "
        "SELECT %s, %s, s.seq, s.sha, %s, %s FROM unnest(%s::int[], %s::text[]) AS s(seq, sha) "
        "ON CONFLICT (version, direction, seq) DO UPDATE SET statement_sha = EXCLUDED.statement_sha, "
        "status = EXCLUDED.status, invalid_before = COALESCE(EXCLUDED.invalid_before, "
        "dbops.statement_progress.invalid_before), updated_at = now()",
        (version, direction, status, json.dumps(invalid_before) if invalid_before is not None else None,
         [r[0] for r in rows], [r[1] for r in rows]))


def clear_progress(conn: Any, version: str, *, directions: tuple[str, ...] = ("up", "down"),
                   backfill: bool = False) -> None:
    write(conn, "DELETE FROM dbops.statement_progress WHERE version = %s AND direction = ANY(%s)",
          (version, list(directions)))
    if backfill:
        write(conn, "DELETE FROM dbops.backfill_progress WHERE version = %s", (version,))


def forget_progress(conn: Any, version: str, direction: str, seq: int) -> None:
    """Drop one statement's progress row (its statement failed: a rerun runs it from the start)."""
    write(conn, "DELETE FROM dbops.statement_progress WHERE version = %s AND direction = %s AND seq = %s",
          (version, direction, seq))


def versions_with_progress(conn: Any) -> set[str]:
    """Versions with recorded statement progress, in one query (planning asks for every set)."""
    if not ledger_exists(conn):
        return set()
    return {r[0] for r in conn.execute("SELECT DISTINCT version FROM dbops.statement_progress")}


def has_progress(conn: Any, version: str) -> bool:
    if not ledger_exists(conn):
        return False
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM dbops.statement_progress WHERE version = %s) OR "
                       "EXISTS (SELECT 1 FROM dbops.backfill_progress WHERE version = %s)",
                       (version, version)).fetchone()
    return bool(row[0])

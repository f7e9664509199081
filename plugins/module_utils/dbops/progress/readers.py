"""Readers of the progress that long work records where it runs, one query each, never changing anything:

- PostgreSQL backfills: the migrate engine's checkpoints in dbops.backfill_progress (rows done), against the
  table's estimated row count (pg_class.reltuples: counting would read the whole table at every poll);
- MongoDB backfills: the migrate engine's checkpoints in <database>.dbops_progress (documents done), against the
  collection's estimated document count;
- base backups: the server's own pg_stat_progress_basebackup (bytes streamed of the total it estimated);
- dumps: pg_stat_progress_copy of the COPY TO each pg_dump runs (bytes and rows so far; no total);
- logical replication (a cutover's sync): each logical slot's distance from the server's current WAL position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.progress import PROGRESS
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord

SOURCES = ("backfills", "base_backup", "copy", "replication")

PG_BACKFILLS = (
    "SELECT p.version, p.name, p.table_name, p.rows_done, p.status, p.started_at, p.updated_at, "
    "CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END "
    "FROM dbops.backfill_progress AS p LEFT JOIN pg_class AS c ON c.oid = to_regclass(p.table_name) "
    # Finished backfills of earlier runs stay in the table: only the running ones and those just finished.
    "WHERE p.status = 'running' OR p.updated_at > now() - interval '10 minutes' ORDER BY p.started_at")
PG_HAS_BACKFILLS = "SELECT to_regclass('dbops.backfill_progress') IS NOT NULL"
PG_BASE_BACKUP = ("SELECT p.pid, p.phase, p.backup_total, p.backup_streamed, a.backend_start "
                  "FROM pg_stat_progress_basebackup AS p LEFT JOIN pg_stat_activity AS a USING (pid) ORDER BY p.pid")
PG_COPY = ("SELECT p.pid, p.relid::regclass::text, p.command, p.bytes_processed, p.bytes_total, "
           "p.tuples_processed, a.application_name, a.query_start FROM pg_stat_progress_copy AS p "
           "LEFT JOIN pg_stat_activity AS a USING (pid) WHERE p.pid <> pg_backend_pid() ORDER BY p.pid")
PG_SLOTS = ("SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_type = 'logical' AND confirmed_flush_lsn IS NOT NULL "
            "ORDER BY slot_name")


@dataclass
class ProgressReading:
    records: list[ProgressRecord] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)


def _run(conn: Any, reading: ProgressReading, query: str) -> list[tuple[Any, ...]]:
    reading.queries.append(query)
    return list(conn.execute(query).fetchall())


def postgres_backfills(conn: Any, reading: ProgressReading) -> None:
    reading.queries.append(PG_HAS_BACKFILLS)
    if not conn.execute(PG_HAS_BACKFILLS).fetchone()[0]:
        return  # no ledger yet: nothing has been backfilled
    for version, name, table, rows, status, started, updated, estimate in _run(conn, reading, PG_BACKFILLS):
        reading.records.append(ProgressRecord(
            kind="backfill", name=f"{version} {name}", unit="rows", done=int(rows), total=estimate or None,
            status=status, detail=table, started_at=to_iso(started), updated_at=to_iso(updated)))


def postgres_base_backup(conn: Any, reading: ProgressReading) -> None:
    for pid, phase, total, streamed, started in _run(conn, reading, PG_BASE_BACKUP):
        reading.records.append(ProgressRecord(
            kind="base_backup", name=f"pid {pid}", unit="bytes", done=int(streamed or 0),
            total=int(total) if total else None, detail=phase, started_at=to_iso(started)))


def postgres_copy(conn: Any, reading: ProgressReading) -> None:
    for pid, table, command, done, total, rows, application, started in _run(conn, reading, PG_COPY):
        reading.records.append(ProgressRecord(
            kind="copy", name=f"{table} (pid {pid})", unit="bytes", done=int(done or 0),
            total=int(total) if total else None,
            detail=f"{command.lower()}, {int(rows or 0):,} rows" + (f", {application}" if application else ""),
            started_at=to_iso(started)))


def postgres_replication(conn: Any, reading: ProgressReading) -> None:
    for slot, active, behind in _run(conn, reading, PG_SLOTS):
        reading.records.append(ProgressRecord(
            kind="replication", name=slot, unit="bytes", remaining=max(0, int(behind or 0)),
            detail="slot active" if active else "slot inactive"))


POSTGRES_READERS: dict[str, Callable[[Any, ProgressReading], None]] = {
    "backfills": postgres_backfills, "base_backup": postgres_base_backup, "copy": postgres_copy,
    "replication": postgres_replication}


def mongodb_backfills(db: Any, reading: ProgressReading) -> None:
    """The migrate engine's checkpoints of the database (dbops_progress), running or just finished."""
    reading.queries.append(f"db.{PROGRESS}.find({{status: 'running'}} or updated in the last 10 minutes)")
    recent = utc_now() - timedelta(minutes=10)
    newest = sorted(db[PROGRESS].find({"$or": [{"status": "running"}, {"updated_at": {"$gt": recent}}]}),
                    key=lambda entry: str(entry.get("started_at") or ""))
    estimates: dict[str, int] = {}
    for entry in newest:
        updated = entry.get("updated_at")
        collection = str(entry.get("collection") or "")
        if collection and collection not in estimates:
            estimates[collection] = int(db[collection].estimated_document_count())
        reading.records.append(ProgressRecord(
            kind="backfill", name=f"{entry.get('version')} {entry.get('name')}", unit="documents",
            done=int(entry.get("documents") or 0), total=estimates.get(collection) or None,
            status="running" if entry.get("status") == "running" else "done", detail=collection,
            started_at=_iso(entry.get("started_at")), updated_at=_iso(updated)))


def _iso(value: Any) -> str | None:
    return to_iso(as_utc(value)) if hasattr(value, "tzinfo") else (str(value) if value else None)

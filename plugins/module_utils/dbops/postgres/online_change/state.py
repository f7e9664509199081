"""The state of one online change, in its row of dbops.backfill_progress: the phase it reached and, while it
copies, the last key copied. Each phase is recorded in the transaction that completes it (the copy's key with
each batch), so a rerun after kill -9 continues from there, and a rerun after completion does nothing.

The row is named "online_change <table> <direction>"; a rollback of the set clears it with the set's backfill
progress. The phase and the names live in last_key (jsonb): the table's columns are shared with backfills.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

PHASES = ("shadow", "copying", "copied", "validated", "swapped", "done")


@dataclass(frozen=True)
class ChangeState:
    phase: str
    last_key: list[str] | None = None  # the original's primary key of the last row copied, as text
    rows: int = 0
    batches: int = 0
    resumes: int = 0
    pending_constraints: tuple[tuple[str, str, str], ...] = ()  # (schema, table, constraint) to VALIDATE

    def document(self) -> str:
        return json.dumps({"phase": self.phase, "key": self.last_key, "resumes": self.resumes,
                           "validate": [list(c) for c in self.pending_constraints]})

    def at(self, phase: str, **changes: Any) -> ChangeState:
        return replace(self, phase=phase, **changes)


def row_name(table: str, direction: str) -> str:
    return f"online_change {table} {direction}"


def read(conn: Any, version: str, name: str) -> ChangeState | None:
    row = conn.execute("SELECT last_key, rows_done, batches FROM dbops.backfill_progress "
                       "WHERE version = %s AND name = %s", (version, name)).fetchone()
    if row is None or not isinstance(row[0], dict):
        return None
    doc = row[0]
    return ChangeState(phase=doc.get("phase", "shadow"), last_key=doc.get("key"), rows=row[1], batches=row[2],
                       resumes=int(doc.get("resumes") or 0),
                       pending_constraints=tuple(tuple(c) for c in doc.get("validate") or ()))


def insert(conn: Any, version: str, name: str, table: str, state: ChangeState) -> None:
    conn.execute("INSERT INTO dbops.backfill_progress (version, name, table_name, last_key, status) "
                 "VALUES (%s, %s, %s, %s::jsonb, 'running')", (version, name, table, state.document()))


def write(conn: Any, version: str, name: str, state: ChangeState) -> None:
    """Inside the caller's transaction, with the work the state records."""
    conn.execute("UPDATE dbops.backfill_progress SET last_key = %s::jsonb, rows_done = %s, batches = %s, "
                 "status = %s, updated_at = now() WHERE version = %s AND name = %s",
                 (state.document(), state.rows, state.batches, "done" if state.phase == "done" else "running",
                  version, name))


def forget(conn: Any, version: str, name: str) -> None:
    conn.execute("DELETE FROM dbops.backfill_progress WHERE version = %s AND name = %s", (version, name))

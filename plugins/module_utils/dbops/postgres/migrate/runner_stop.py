"""Stopping a running migrate on PostgreSQL: the backend holding the runner's advisory lock.

The PostgreSQL executor runs its statements on the same session that holds the runner lock, so that backend is
the runner. It is cancelled first (its statement fails, the engine records the set as failed or partial and lets
go), and terminated only if it is still there after the grace period; either way the call returns once the
session is gone, so the next migrate run applies the engine's resume rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import APPLICATION_NAME
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.advisory_lock import (
    RUNNER_LOCK_KEY,
)

_UNSIGNED_KEY = RUNNER_LOCK_KEY & 0xFFFFFFFFFFFFFFFF
RUNNER_SESSIONS_SQL = (
    "SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 200) "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid "
    "AND l.objsubid = 1 AND a.pid <> pg_backend_pid()")
OTHER_SESSIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid() "
    "AND datname = current_database() AND NOT (pid = ANY(%s))")


@dataclass(frozen=True)
class RunnerSession:
    pid: int
    role: str
    application_name: str
    state: str
    query: str
    stopped_by: str = ""  # "cancel" or "terminate" once stopped


def runner_sessions(conn: Any, queries: list[str]) -> list[RunnerSession]:
    queries.append(RUNNER_SESSIONS_SQL % (_UNSIGNED_KEY >> 32, _UNSIGNED_KEY & 0xFFFFFFFF))
    rows = conn.execute(RUNNER_SESSIONS_SQL, (_UNSIGNED_KEY >> 32, _UNSIGNED_KEY & 0xFFFFFFFF)).fetchall()
    return [RunnerSession(pid, role or "", app or "", state or "", query or "")
            for pid, role, app, state, query in rows]


def other_collection_sessions(conn: Any, runners: list[RunnerSession]) -> int:
    """Sessions of this collection that hold no runner lock (backups, captures): reported, never stopped."""
    pids = [session.pid for session in runners]
    return int(conn.execute(OTHER_SESSIONS_SQL, (APPLICATION_NAME, pids)).fetchone()[0])


def _alive(conn: Any, pid: int) -> bool:
    return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0])


def _wait_gone(conn: Any, pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(conn, pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def stop_session(conn: Any, session: RunnerSession, *, grace_s: float, wait_s: float,
                 queries: list[str]) -> RunnerSession:
    """Cancel, then after grace_s terminate; returns once the backend is gone (or raises after wait_s)."""
    queries.append(f"SELECT pg_cancel_backend({session.pid})")
    conn.execute("SELECT pg_cancel_backend(%s)", (session.pid,))
    if _wait_gone(conn, session.pid, grace_s):
        return RunnerSession(**{**session.__dict__, "stopped_by": "cancel"})
    queries.append(f"SELECT pg_terminate_backend({session.pid})")
    conn.execute("SELECT pg_terminate_backend(%s)", (session.pid,))
    if _wait_gone(conn, session.pid, wait_s):
        return RunnerSession(**{**session.__dict__, "stopped_by": "terminate"})
    raise DbopsError(f"the migrate session (pid {session.pid}, role {session.role}) was still there "
                     f"{grace_s + wait_s:g}s after it was cancelled and terminated")

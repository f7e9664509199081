"""One runner at a time per database: a session-level advisory lock, waited for up to a timeout."""

from __future__ import annotations

import hashlib
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RunnerLockTimeout

try:
    from psycopg import errors as pg_errors
except ImportError:  # pragma: no cover
    pg_errors = None  # type: ignore[assignment]

# A fixed 64-bit key derived from the collection's name, so unrelated advisory locks do not collide with ours.
RUNNER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"sevenp.dbops:migration-runner").digest()[:8], "big", signed=True)


def _holder(conn: Any) -> str:
    """Who holds the lock, for the error message."""
    unsigned = RUNNER_LOCK_KEY & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start, a.usename "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid "
        "AND l.objsubid = 1 LIMIT 1",
        (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
    if not row:
        return "another runner"
    pid, app, addr, since, user = row
    return f"another runner (pid {pid}, {app or 'no application_name'}, user {user}, from {addr or 'local socket'}, " \
           f"connected since {since:%Y-%m-%d %H:%M:%S %Z})"


def acquire(conn: Any, wait_s: float) -> None:
    """Take the runner lock, waiting up to wait_s seconds (lock_timeout bounds the wait on the server side)."""
    if wait_s <= 0:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUNNER_LOCK_KEY,)).fetchone()[0]
        if not got:
            raise RunnerLockTimeout(f"the migration runner lock is held by {_holder(conn)}")
        return
    previous = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(wait_s * 1000)}ms",))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (RUNNER_LOCK_KEY,))
    except pg_errors.LockNotAvailable:
        raise RunnerLockTimeout(f"waited {wait_s:g}s for the migration runner lock, still held by {_holder(conn)}; "
                                "try again later or raise runner_lock_wait") from None
    finally:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (previous,))


def release(conn: Any) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (RUNNER_LOCK_KEY,))

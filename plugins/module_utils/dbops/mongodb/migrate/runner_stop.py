"""Stopping a running migrate on MongoDB: the owner of the lock document in dbops_lock.

The lock names its owner's host and process id. A live lock held from this host is stopped by SIGTERM to that
process (its PostgreSQL session, if any, is stopped on the PostgreSQL side first); a lock held from another host
cannot be reached from here and is reported. Either way the wait ends when the lock is released or has expired,
which is when the next migrate run may take it over and apply the resume rules.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.processes import process_alive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import (
    COLLECTION,
    LOCK_ID,
    server_now,
)


@dataclass(frozen=True)
class MongoRunnerLock:
    owner: str
    host: str
    pid: int
    expires_at: str
    action: str  # what was done: "expired", "signalled", "unreachable (other host)", "would signal" (check mode)
    released: bool = False


def _live_lock(db: Any) -> dict[str, Any] | None:
    lock = db[COLLECTION].find_one({"_id": LOCK_ID})
    if lock is None or lock.get("expires_at") is None or lock["expires_at"] < server_now(db):
        return None
    return lock


def stop_runner(db: Any, *, wait_s: float, check_mode: bool, queries: list[str]) -> MongoRunnerLock | None:
    """The live runner lock's owner, stopped where this host can reach it; None when no runner holds the lock."""
    queries.append(f"db.{COLLECTION}.findOne({{_id: {LOCK_ID!r}}}) on {db.name}")
    lock = _live_lock(db)
    if lock is None:
        return None
    found = MongoRunnerLock(owner=str(lock.get("owner", "")), host=str(lock.get("host", "")),
                            pid=int(lock.get("pid") or 0), expires_at=str(lock["expires_at"]),
                            action="unreachable (other host or process gone); it expires unless renewed")
    pid = found.pid
    if not (found.host == socket.gethostname() and pid > 0 and pid != os.getpid() and process_alive(pid)):
        return found
    if check_mode:
        return replace(found, action="would signal")
    queries.append(f"kill -TERM {pid} (the lock owner on {found.host})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return replace(found, action="signalled", released=not process_alive(pid))

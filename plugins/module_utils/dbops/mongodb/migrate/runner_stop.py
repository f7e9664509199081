"""Stopping a running migrate on MongoDB: the owner of the lock document in dbops_lock.

Three steps, each only when the one before did not end the run within the grace period:
1. a stop request written into the lock document, which the runner reads between operations and batches from
   wherever it runs (lock.STOP_FIELD); it stops there and leaves its set to the next run's resume rules;
2. SIGTERM to the owner's process, when it runs on this host;
3. killOp of the runner's operations still in progress on the server (found by the appName its connection
   announces), for a runner stuck in one long operation; a server that cannot list or kill operations is noted.
The wait ends when the lock is released or has expired, which is when the next migrate run may take it over; the
lock of an owner on this host whose process is gone is expired at once.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.processes import process_alive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import (
    COLLECTION,
    LOCK_ID,
    STOP_FIELD,
    runner_app_name,
    server_now,
)

POLL_S = 0.1


@dataclass(frozen=True)
class MongoRunnerLock:
    owner: str
    host: str
    pid: int
    expires_at: str
    action: str  # the last step taken: "would request a stop" (check mode), "stop requested", "signalled", "killed"
    released: bool = False
    steps: list[str] = field(default_factory=list)  # every step, in order, with what it found

    @property
    def acted(self) -> bool:
        return bool(self.steps)


def _live_lock(db: Any) -> dict[str, Any] | None:
    lock = db[COLLECTION].find_one({"_id": LOCK_ID})
    if lock is None or lock.get("expires_at") is None or lock["expires_at"] < server_now(db):
        return None
    return lock


def _released(db: Any, owner: str) -> bool:
    lock = _live_lock(db)
    return lock is None or str(lock.get("owner", "")) != owner


def _wait_released(db: Any, owner: str, until: float) -> bool:
    while True:
        if _released(db, owner):
            return True
        if time.monotonic() >= until:
            return False
        time.sleep(POLL_S)


def _local_process(found: MongoRunnerLock) -> bool:
    return found.host == socket.gethostname() and found.pid > 0 and found.pid != os.getpid() \
        and process_alive(found.pid)


def _expire(db: Any, found: MongoRunnerLock, queries: list[str]) -> bool:
    """The owner is known dead (a process of this host that is gone): its lock need not be waited out."""
    queries.append(f"db.{COLLECTION}.updateOne({{_id: {LOCK_ID!r}, owner: {found.owner!r}}}, "
                   "{$set: {expires_at: <server now>}})")
    db[COLLECTION].update_one({"_id": LOCK_ID, "owner": found.owner}, {"$set": {"expires_at": server_now(db)}})
    return True


def request_stop(db: Any, owner: str, queries: list[str]) -> bool:
    """Write the stop request into the owner's lock document; False when the lock changed hands meanwhile."""
    queries.append(f"db.{COLLECTION}.updateOne({{_id: {LOCK_ID!r}, owner: {owner!r}}}, "
                   f"{{$set: {{{STOP_FIELD}: {{at, by}}}}}}) on {db.name}")
    by = f"{socket.gethostname()}:{os.getpid()}"
    result = db[COLLECTION].update_one({"_id": LOCK_ID, "owner": owner},
                                       {"$set": {STOP_FIELD: {"at": server_now(db), "by": by}}})
    return result.matched_count == 1


def kill_operations(client: Any, app_name: str, queries: list[str]) -> tuple[list[int], str | None]:
    """killOp every operation in progress whose client announced app_name; (opids, why not) ."""
    queries.append(f"db.aggregate([{{$currentOp: {{allUsers: true}}}}, {{$match: {{appName: {app_name!r}}}}}])")
    try:
        ops = list(client.admin.aggregate([{"$currentOp": {"allUsers": True, "idleConnections": False}},
                                           {"$match": {"appName": app_name}}]))
    except pymongo_errors.PyMongoError as exc:
        return [], f"the server cannot list operations ({describe_error(exc)})"
    killed: list[int] = []
    for op in ops:
        opid = op.get("opid")
        if opid is None:
            continue
        queries.append(f"db.adminCommand({{killOp: 1, op: {opid!r}}})")
        try:
            client.admin.command("killOp", op=opid)
        except pymongo_errors.PyMongoError as exc:
            return killed, f"killOp {opid} failed ({describe_error(exc)})"
        killed.append(opid)
    return killed, None


def stop_runner(db: Any, *, grace_s: float, wait_s: float, check_mode: bool, queries: list[str]
                ) -> MongoRunnerLock | None:
    """The live runner lock's owner, asked to stop, then signalled and its operations killed if it does not;
    None when no runner holds the lock."""
    queries.append(f"db.{COLLECTION}.findOne({{_id: {LOCK_ID!r}}}) on {db.name}")
    lock = _live_lock(db)
    if lock is None:
        return None
    found = MongoRunnerLock(owner=str(lock.get("owner", "")), host=str(lock.get("host", "")),
                            pid=int(lock.get("pid") or 0), expires_at=str(lock["expires_at"]),
                            action="would request a stop")
    local = _local_process(found)
    if check_mode:
        return replace(found, action="would request a stop" + (f", then signal {found.pid}" if local else ""))
    deadline = time.monotonic() + max(wait_s, 0.0)
    grace_end = min(deadline, time.monotonic() + max(grace_s, 0.0))
    steps: list[str] = []
    if not request_stop(db, found.owner, queries):
        return replace(found, action="released", released=True, steps=["the lock changed hands before the request"])
    steps.append("stop requested in the lock document")
    action = "stop requested"
    released = _wait_released(db, found.owner, grace_end)
    if not released and local and process_alive(found.pid):
        queries.append(f"kill -TERM {found.pid} (the lock owner on {found.host})")
        os.kill(found.pid, signal.SIGTERM)
        steps.append(f"SIGTERM sent to {found.pid}")
        action = "signalled"
        released = _wait_released(db, found.owner, min(deadline, time.monotonic() + max(grace_s, 0.0)))
        if not released and not process_alive(found.pid):
            released = _expire(db, found, queries)
            steps.append(f"process {found.pid} is gone: its lock is expired now, so the next run takes it over")
    if not released:
        killed, why_not = kill_operations(db.client, runner_app_name(found.host, found.pid), queries)
        if killed:
            steps.append(f"killOp of {len(killed)} operation(s) in progress: {killed}")
            action = "killed"
        if why_not:
            steps.append(why_not)
        released = _wait_released(db, found.owner, deadline)
    if not released and not local:
        steps.append(f"the owner runs on {found.host or 'an unknown host'}: it stops at its next step, "
                     f"or its lock expires at {found.expires_at} unless renewed")
    return replace(found, action=action, released=released, steps=steps)

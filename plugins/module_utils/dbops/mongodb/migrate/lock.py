"""One runner at a time on a MongoDB database: a lock document in dbops_lock with an owner and an expiry.

The expiry is renewed by a background thread while the runner works, so a runner that is killed (kill -9,
lost host) stops renewing and its lock is taken over once it has expired. Times come from the server's clock
(hello.localTime), so runners on hosts with skewed clocks agree on what "expired" means.

A stop is requested by writing STOP_FIELD into the lock document (migration_stop does, from any host): the runner
reads it between operations and batches (at most once a second) and stops there as if it had lost the lock, so
its set is left for the next run's resume rules. This reaches a runner on another host, where no signal can.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed, RunnerLockTimeout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    is_duplicate_key,
    pymongo,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import (
    LAYOUT,
    LAYOUT_FIELD,
)

COLLECTION = "dbops_lock"
LOCK_ID = "migrations"
DEFAULT_TTL_S = 30.0
STOP_FIELD = "stop_requested"
STOP_POLL_S = 1.0


def runner_app_name(host: str, pid: int) -> str:
    """The appName a runner's MongoDB connection announces: migration_stop finds its operations by it."""
    return f"sevenp.dbops migrate {host}:{pid}"


class LockLost(MigrationFailed):
    """This runner's lock expired and another runner took it: stop without touching anything more."""


def server_now(db: Any):
    """The server's clock (hello.localTime), tz-naive UTC like every date pymongo reads back."""
    return db.client.admin.command("hello")["localTime"].replace(tzinfo=None)


class RunnerLock:
    def __init__(self, db: Any, *, ttl_s: float = DEFAULT_TTL_S, run_id: str | None = None) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{run_id or uuid.uuid4().hex[:12]}"
        self.taken_over: dict[str, Any] | None = None  # the expired lock this runner replaced, if any
        self._held = False
        self._lost: str | None = None
        self.last_renew_error: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._stop_polled_at = 0.0

    @property
    def collection(self):
        return self.db[COLLECTION]

    def _try_take(self) -> bool:
        now = server_now(self.db)
        fields = {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(), "acquired_at": now,
                  "renewed_at": now, "expires_at": now + timedelta(seconds=self.ttl_s), LAYOUT_FIELD: LAYOUT}
        try:
            previous = self.collection.find_one_and_update(
                {"_id": LOCK_ID, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": fields}, upsert=True, return_document=pymongo.ReturnDocument.BEFORE)
        except pymongo_errors.PyMongoError as exc:
            if is_duplicate_key(exc):  # the lock exists, held by a live runner
                return False
            raise
        if previous and previous.get("owner") != self.owner:
            self.taken_over = {k: previous.get(k) for k in ("owner", "host", "pid", "acquired_at", "expires_at")}
        return True

    def holder(self) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": LOCK_ID})

    def acquire(self, wait_s: float) -> None:
        deadline = time.monotonic() + max(0.0, wait_s)
        delay = 0.05
        while True:
            if self._try_take():
                self._held = True
                self._lost = None
                self._stop.clear()
                self._renewer = threading.Thread(target=self._renew_loop, name="dbops-mongo-lock", daemon=True)
                self._renewer.start()
                return
            if time.monotonic() >= deadline:
                holder = self.holder() or {}
                raise RunnerLockTimeout(
                    f"another runner holds the MongoDB migration lock ({self.db.name}.{COLLECTION}: owner "
                    f"{holder.get('owner', '?')}, since {holder.get('acquired_at', '?')}, expires "
                    f"{holder.get('expires_at', '?')} unless renewed); waited {wait_s:g}s")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def _renew_loop(self) -> None:
        interval = max(0.2, self.ttl_s / 3)
        while not self._stop.wait(interval):
            try:
                now = server_now(self.db)
                result = self.collection.update_one(
                    {"_id": LOCK_ID, "owner": self.owner},
                    {"$set": {"renewed_at": now, "expires_at": now + timedelta(seconds=self.ttl_s)}})
            except pymongo_errors.PyMongoError as exc:  # keep trying: the lock is valid until it expires
                self.last_renew_error = describe_error(exc)
                continue
            if result.matched_count == 0:
                self._lost = "another runner took the lock over (this runner did not renew it in time)"
                return

    def check(self) -> None:
        """Raise if the lock was lost or a stop requested (checked between operations and batches, so a runner
        never works unlocked and stops at a step boundary)."""
        if self._held and not self._lost and time.monotonic() - self._stop_polled_at >= STOP_POLL_S:
            self._stop_polled_at = time.monotonic()
            self._poll_stop_request()
        if self._held and self._lost:
            raise LockLost(f"lost the MongoDB migration lock: {self._lost}; stopped before the next step")

    def _poll_stop_request(self) -> None:
        try:
            held = self.collection.find_one({"_id": LOCK_ID, "owner": self.owner}, {STOP_FIELD: 1})
        except pymongo_errors.PyMongoError as exc:  # unreadable for now: the renewer decides whether it is lost
            self.last_renew_error = describe_error(exc)
            return
        request = (held or {}).get(STOP_FIELD)
        if request:
            self._lost = f"a stop was requested by {request.get('by', '?')} at {request.get('at', '?')}"

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})

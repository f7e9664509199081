"""The MongoDB side of a migration run: the connection, the server's topology, the runner lock, the notes found
before a call that can report them, and the batch settings derived from them."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import topology
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    UNAUTHORIZED,
    connect,
    describe_error,
    hosts_of,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import BatchEnv
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import RunnerLock, runner_app_name
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part

DEFAULT_BATCH_SIZE = 1000


class RunnerConnection:
    def __init__(self, uri: str, database: str, *, timeout_ms: int) -> None:
        self.uri = uri
        self.database = database
        self.timeout_ms = timeout_ms
        self.client: Any = None
        self.db: Any = None
        self.topology: topology.Topology | None = None
        self.lock: RunnerLock | None = None
        self.notes: list[str] = []  # warnings found before a call that has opts (lock takeover, layout)
        self._preflight_done = False

    @property
    def transactions(self) -> bool:
        return bool(self.topology and self.topology.transactions)

    def open(self) -> None:
        self.client = connect(self.uri, timeout_ms=self.timeout_ms,
                              appname=runner_app_name(socket.gethostname(), os.getpid()))
        self.db = self.client[self.database]
        where = hosts_of(self.uri)
        try:
            # Proves the credentials may read this database (a ping passes without them on most servers).
            self.db.list_collection_names(filter={"name": ledger.COLLECTION})
            self.topology = topology.detect(self.client)
        except pymongo_errors.OperationFailure as exc:
            self.close()
            if exc.code == UNAUTHORIZED:
                raise ConnectionFailed(f"MongoDB at {where} refused access to database {self.database}: "
                                       f"{describe_error(exc)} (check the user and its roles)") from exc
            raise ConnectionFailed(f"MongoDB at {where}: {describe_error(exc)}") from exc
        except pymongo_errors.PyMongoError as exc:
            self.close()
            raise ConnectionFailed(f"cannot reach MongoDB at {where}: {describe_error(exc)}") from exc

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(pymongo_errors.PyMongoError):  # it expires by itself
                self.release_lock()
            self.client.close()
            self.client = None
            self.db = None

    # ---- the runner lock -----------------------------------------------------------------------------------------

    def acquire_lock(self, wait_s: float, ttl_s: float) -> None:
        self.lock = RunnerLock(self.db, ttl_s=ttl_s)
        try:
            self.lock.acquire(wait_s)
        except pymongo_errors.PyMongoError as exc:
            raise MigrationFailed(f"taking the MongoDB migration lock failed: {describe_error(exc)}") from exc
        if self.lock.taken_over:
            held = self.lock.taken_over
            self.notes.append(f"MongoDB: took over the migration lock of runner {held.get('owner')} (expired at "
                              f"{held.get('expires_at')}); that runner had crashed or stopped renewing it")

    def release_lock(self) -> None:
        if self.lock is not None:
            lock, self.lock = self.lock, None
            lock.release()

    def check_lock(self) -> None:
        if self.lock is not None:
            self.lock.check()

    # ---- what a call reports ---------------------------------------------------------------------------------------

    def flush_notes(self, opts: RunOptions) -> None:
        for note in self.notes:
            if note not in opts.warnings:
                opts.warnings.append(note)
        self.notes.clear()

    def require_primary(self, mset: MigrationSet, opts: RunOptions) -> None:
        topo = topology.detect(self.client)
        self.topology = topo
        if not self._preflight_done:
            self._preflight_done = True
            for note in topology.preflight_notes(self.client):
                if note not in opts.warnings:
                    opts.warnings.append(note)
        if not topo.writable_primary:
            raise MigrationFailed(f"the MongoDB server {hosts_of(self.uri)} is not a writable primary; connect to "
                                  "the replica set (or its primary)", version=mset.version,
                                  path=mongo_part(mset).path)

    def run_facts(self) -> dict[str, Any]:
        """Who and where, for the ledger entry of a part being applied."""
        facts: dict[str, Any] = {"topology": self.topology.to_dict() if self.topology else None,
                                 "db_user": uri_user(self.uri)}
        if self.topology is not None and self.topology.last_write_ts is not None:
            facts["oplog_ts_before"] = self.topology.last_write_ts
        return facts

    def batch_env(self, version: str, direction: str, opts: RunOptions, *, batch_size: int | None = None,
                  pause_ms: int = 0, dry_run: bool = False) -> BatchEnv:
        """The run's batch_size overrides the part's, which overrides DEFAULT_BATCH_SIZE."""
        return BatchEnv(db=self.db, version=version, direction=direction,
                        batch_size=opts.batch_size or batch_size or DEFAULT_BATCH_SIZE, pause_s=pause_ms / 1000.0,
                        transactions=self.transactions, check_lock=self.check_lock, dry_run=dry_run)


def uri_user(uri: str) -> str | None:
    rest = uri.split("://", 1)[-1].split("/", 1)[0]
    if "@" not in rest:
        return None
    return rest.rsplit("@", 1)[0].split(":", 1)[0] or None

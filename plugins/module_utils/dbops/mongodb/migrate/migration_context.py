"""ctx, the second argument of up(db, ctx), down(db, ctx) and validate(db, ctx) in mongodb.py.

    for docs in ctx.iterate("users", {"active": True}):          # batches in _id order (keyset, never skip)
        ...
    ctx.each_batch("users", handler, filter={"preferences": {"$exists": False}})
        # handler(docs, writer): writer.update_one(...), insert_one(...), ... are committed with a checkpoint,
        # in one transaction where the server has them; a run killed with kill -9 resumes after the last
        # committed batch and no document is migrated twice.
    ctx.bulk_write("users", requests)      # in batches of ctx.batch_size with ctx.pause_ms between them
    ctx.checkpoint("users")                # last _id committed by each_batch(name="users") in this direction
    ctx.batch_size, ctx.pause_ms, ctx.dry_run, ctx.transactions, ctx.version, ctx.direction, ctx.settings
    ctx.log("message")                     # reported in the run's queries
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import (
    BatchEnv,
    BatchStats,
    Writer,
    keyset_batches,
    run_batches,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import show


def _from_env(name: str) -> property:
    """A read-only attribute of ctx that is the run's BatchEnv field of the same name."""
    return property(lambda ctx: getattr(ctx._env, name), doc=f"the run's {name} (read-only)")


class MigrationContext:
    version = _from_env("version")
    direction = _from_env("direction")
    batch_size = _from_env("batch_size")
    dry_run = _from_env("dry_run")
    transactions = _from_env("transactions")

    def __init__(self, env: BatchEnv, log: list[str]) -> None:
        self._env = env
        self._log = log
        self._names: set[str] = set()

    @property
    def pause_ms(self) -> int:
        return int(self._env.pause_s * 1000)

    @property
    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "pause_ms": self.pause_ms, "dry_run": self.dry_run,
                "transactions": self.transactions, "version": self.version, "direction": self.direction}

    def log(self, message: str) -> None:
        self._log.append(f"// {self.version} {self.direction}: {message}")

    def iterate(self, collection: str, filter: dict[str, Any] | None = None,
                projection: dict[str, Any] | None = None, *, batch_size: int | None = None,
                after: Any = None) -> Iterator[list[dict[str, Any]]]:
        """Read-only batches in _id order; pass after= (e.g. ctx.checkpoint(name)) to start after an _id."""
        self._env.check_lock()
        db = self._env.db
        yield from keyset_batches(db[collection], dict(filter or {}), projection, after, batch_size or self.batch_size)

    def each_batch(self, collection: str, handler: Callable[[list[dict[str, Any]], Writer], None], *,
                   filter: dict[str, Any] | None = None, projection: dict[str, Any] | None = None,
                   name: str | None = None) -> BatchStats:
        name = name or collection
        if name in self._names:
            raise MigrationFailed(f"each_batch name {name!r} used twice in {self.direction}(): give each loop its "
                                  "own name=")
        self._names.add(name)
        stats = run_batches(self._env, name=f"code:{name}", collection=collection, flt=filter,
                            projection=projection, handler=lambda docs, writer, _precise: handler(docs, writer))
        verb = "would write" if self.dry_run else "wrote"
        resumed = f", resumed after _id {stats.resumed_after}" if stats.resumed_after is not None else ""
        self._log.append(f"// {self.version} {self.direction}: each_batch {name} on {collection} "
                         f"{show(filter or {})}: {stats.documents} documents in {stats.batches} batches, {verb} "
                         f"{stats.writes} operations{resumed}")
        return stats

    def bulk_write(self, collection: str, requests: list[Any], *, ordered: bool = False) -> int:
        """Write requests in batches of batch_size with a pause between; returns how many were sent."""
        if self.dry_run:
            self._log.append(f"// {self.version} {self.direction}: would bulk_write {len(requests)} operations "
                             f"to {collection}")
            return len(requests)
        db = self._env.db
        sent = 0
        for start in range(0, len(requests), self.batch_size):
            self._env.check_lock()
            chunk = requests[start:start + self.batch_size]
            db[collection].bulk_write(chunk, ordered=ordered)
            sent += len(chunk)
            if self._env.pause_s > 0 and start + self.batch_size < len(requests):
                time.sleep(self._env.pause_s)
        return sent

    def checkpoint(self, name: str) -> Any:
        if self.dry_run:
            return None
        found = progress.read_checkpoint(self._env.db, self.version, self.direction, f"code:{name}")
        return found.get("last_id") if found else None

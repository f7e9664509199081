"""After a MongoDB part failed: undo what it did so far, and record what is left (FAILED or PARTIAL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    FAILED,
    PARTIAL,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import ledger, progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import LockLost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_errors import short_error


def record_quietly(db: Any, mset: MigrationSet, status: str, opts: RunOptions, message: str) -> None:
    """Record status with the error; a ledger that cannot be written adds a warning instead of hiding the error."""
    try:
        ledger.finish(db, mset.version, status, run_id=opts.run_id, error=message)
    except pymongo_errors.PyMongoError as exc:
        opts.warnings.append(f"{mset.version}: recording status {status} in the MongoDB ledger failed: "
                             f"{describe_error(exc)}")


def undo_after_failure(db: Any, mset: MigrationSet, error: DbopsError, cause: BaseException, opts: RunOptions,
                       undo: Callable[[], None]) -> None:
    """Undo what the part did so far and record FAILED; PARTIAL (kept for resume/compensate) if undo fails.
    Without the runner lock nothing is undone: another runner may be working."""
    if isinstance(cause, LockLost):
        record_quietly(db, mset, PARTIAL, opts, error.message)
        return
    try:
        undo()
    except Exception as undo_exc:  # the original error is what the user must see; this is added to it
        error.message += f"; undoing the MongoDB part failed too ({short_error(undo_exc)}): it is left partial"
        record_quietly(db, mset, PARTIAL, opts, error.message)
        return
    error.message += "; the MongoDB part was undone"
    record_quietly(db, mset, FAILED, opts, error.message)
    progress.clear(db, mset.version)

"""How a failure of a MongoDB part is told: one line, no secrets, naming the set, the file and the line."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part import user_line
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part


def short_error(exc: BaseException) -> str:
    if isinstance(exc, DbopsError):
        return exc.message
    if pymongo_errors is not None and isinstance(exc, pymongo_errors.PyMongoError):
        return describe_error(exc)
    return redact(f"{type(exc).__name__}: {exc}")


def part_error(mset: MigrationSet, exc: BaseException, prefix: str, code_path: Path | None = None) -> DbopsError:
    """exc as an error of the set's MongoDB part; code_path adds the line of mongodb.py where it was raised."""
    where = user_line(exc, code_path) if code_path is not None else ""
    path = mongo_part(mset).path
    if isinstance(exc, DbopsError):
        return type(exc)(prefix + exc.message + where, version=mset.version, path=path)
    return MigrationFailed(prefix + short_error(exc) + where, version=mset.version, path=path)

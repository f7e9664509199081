"""What a caller asks a migration run to do, with the only defaults and the only checks of every parameter.

The `migrate` module passes only what the user gave; every default lives here. Every check raises one
InvalidParameter naming the parameter and the value, before anything connects.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.placeholders import PLACEHOLDER_NAME
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_syntax import version_problem

STATES = ("applied", "rolled_back", "status")
ON_PARTIAL = ("resume", "compensate")
# Whose history a run takes over (postgres/adopt/); kept here, with the other choices, so no engine-neutral code
# imports a database's package to validate a parameter.
ADOPT_CHOICES = ("auto", "flyway", "golang-migrate", "dbmate", "sqitch", "none")
# PostgreSQL keeps lock_timeout in a 32-bit integer of milliseconds.
MAX_LOCK_TIMEOUT_MS = 2_147_483_647
MAX_DDL_RETRIES = 100
MAX_RUNNER_LOCK_WAIT_S = 7 * 24 * 3600.0
MAX_BATCH_SIZE = 10_000_000
# MongoDB database names: no /\. "$ and NUL, fewer than 64 bytes.
_MONGO_DB_NAME = re.compile(r'^[^/\\. "$\x00]+$')


class InvalidParameter(DbopsError, ValueError):
    """A run parameter is missing, of the wrong type or out of range (a ValueError too, for argument parsers)."""


@dataclass
class RunRequest:
    migrations_dir: str
    state: str = "applied"  # applied | rolled_back | status
    target: str = "latest"  # "latest" or a version; for rolled_back the version to return to, "0" = none
    postgres_dsn: str | None = None
    mongodb_uri: str | None = None
    mongodb_database: str | None = None
    allow_destructive: bool = False
    allow_drift: bool = False
    # 5s: long enough for DDL behind ordinary short transactions, short enough not to stall the application.
    lock_timeout_ms: int = 5000
    ddl_retries: int = 5  # retries after a lock_timeout, with exponential backoff
    runner_lock_wait_s: float = 60.0  # how long to wait for another runner
    batch_size: int | None = None  # overrides every backfill's batch_size
    on_partial: str = "resume"  # resume | compensate: what to do with half-applied sets
    check_mode: bool = False
    # state=status: check every applied set again, reading only (its verification and post validation rules).
    verify_applied: bool = False
    # Another tool's history to take over as baseline: auto = the tool of the directory's format, if its table is there.
    adopt: str = "auto"
    # Flyway placeholders: ${name} in Flyway files is replaced by placeholders[name]; an unknown one is an error.
    placeholders: dict[str, str] | None = None

    def validated(self) -> RunRequest:
        """This request once every parameter is checked (validate_request); raises InvalidParameter otherwise."""
        return validate_request(self)


def _refuse(name: str, rule: str, value: Any, *, show: bool = True) -> InvalidParameter:
    try:
        shown = repr(value) if show else f"a {type(value).__name__}"
    except ValueError:  # an int of more than 4300 digits has no repr
        shown = "an integer too large to print"
    return InvalidParameter(f"{name} must be {rule}, not {shown}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(name: str, value: Any, low: int, high: int) -> None:
    """An integer (an integral float is accepted) in [low, high]; never bool, inf or NaN."""
    # ints are compared as ints: math.isfinite() of a huge int would raise OverflowError.
    integral = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if not _is_number(value) or not integral or not low <= value <= high:
        raise _refuse(name, f"a whole number from {low} to {high}", value)


def _seconds(name: str, value: Any, high: float) -> None:
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if not _is_number(value) or not finite or not 0 <= value <= high:
        raise _refuse(name, f"a number of seconds from 0 to {high:g}", value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _refuse(name, "one of " + ", ".join(choices), value)


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _refuse(name, "true or false", value)


def _connection(name: str, value: Any) -> None:
    # Never echoed: a DSN or URI carries a password.
    if value is not None and not isinstance(value, str):
        raise _refuse(name, "a string", value, show=False)


def _check_target(request: RunRequest) -> None:
    target = request.target
    if not isinstance(target, str):
        raise _refuse("target", "a string such as 'latest' or '2024.010' (quote versions in YAML)", target)
    if target != "latest":
        problem = version_problem(target)
        if problem:
            raise InvalidParameter(f"target must be 'latest' or a version: {problem}")
    if request.state == "rolled_back" and target == "latest":
        raise InvalidParameter("state rolled_back needs a target: the version to return to, or 0 to roll back "
                               "every set (target is 'latest')")


def _check_mongodb(request: RunRequest) -> None:
    _connection("mongodb_uri", request.mongodb_uri)
    database = request.mongodb_database
    if database is not None and (not isinstance(database, str) or not _MONGO_DB_NAME.match(database)
                                 or len(database.encode("utf-8")) >= 64):
        raise _refuse("mongodb_database", 'a MongoDB database name (no / \\ . " $ or space, under 64 bytes)',
                      database)


def _check_placeholders(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _refuse("placeholders", "a mapping of placeholder names to values", value)
    for name, text in value.items():
        if not isinstance(name, str) or not PLACEHOLDER_NAME.fullmatch(name):
            raise _refuse("placeholders", "keyed by names of letters, digits, _ . - and : (as in ${name})", name)
        # Values are not echoed: a placeholder may carry a password.
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise _refuse(f"placeholders[{name!r}]", "a string or a number", text, show=False)


def validate_request(request: RunRequest) -> RunRequest:
    """The request itself, once every parameter is known to be usable; raises InvalidParameter otherwise."""
    migrations_dir = request.migrations_dir
    if not isinstance(migrations_dir, (str, os.PathLike)) or not str(migrations_dir).strip():
        raise _refuse("migrations_dir", "the path of a directory", migrations_dir)
    _choice("state", request.state, STATES)
    _choice("on_partial", request.on_partial, ON_PARTIAL)
    _choice("adopt", request.adopt, ADOPT_CHOICES)
    _check_placeholders(request.placeholders)
    _check_target(request)
    _connection("postgres_dsn", request.postgres_dsn)
    _check_mongodb(request)
    for name in ("allow_destructive", "allow_drift", "check_mode", "verify_applied"):
        _flag(name, getattr(request, name))
    _whole("lock_timeout_ms (the module's lock_timeout, in milliseconds)", request.lock_timeout_ms, 1,
           MAX_LOCK_TIMEOUT_MS)
    _whole("ddl_retries", request.ddl_retries, 0, MAX_DDL_RETRIES)
    _seconds("runner_lock_wait_s (the module's runner_lock_timeout)", request.runner_lock_wait_s,
             MAX_RUNNER_LOCK_WAIT_S)
    if request.batch_size is not None:
        _whole("batch_size", request.batch_size, 1, MAX_BATCH_SIZE)
    if not request.postgres_dsn and not request.mongodb_uri:
        raise InvalidParameter("nothing to connect to: give postgres_dsn and/or mongodb_uri")
    return request

"""The pgbouncer_switch module's engine: pause, resume or retarget one PgBouncer database, or report its status.

Every admin command goes through traffic/pgbouncer_admin.AdminConsole (a hard timeout on each). Retargeting
rewrites only that database's [databases] entry (traffic/pgbouncer_ini), sends RELOAD, then reads SHOW DATABASES
until it shows the new target (RELOAD answers before every pool has taken the new settings). Check mode reads
SHOW DATABASES and the ini file and plans; it sends no PAUSE, RESUME or RELOAD and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic import pgbouncer_ini
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_admin import (
    AdminConsole,
    CommandTimedOut,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_databases import (
    PoolerDatabase,
    find_database,
    parse_show_databases,
)

ACTIONS = ("pause", "resume", "retarget", "status")
VERIFY_POLL_S = 0.005


class PauseTimedOut(DbopsError):
    """PAUSE did not complete in time (transactions still running); the database was resumed."""


class RetargetNotApplied(DbopsError):
    """After RELOAD, SHOW DATABASES did not show the new target within the timeout."""


@dataclass(frozen=True)
class PgbouncerSwitchRequest:
    admin_dsn: str
    action: str
    database: str
    config: str | None = None
    target_host: str | None = None
    target_port: int | None = None
    target_dbname: str | None = None
    timeout: float = 10.0
    check_mode: bool = False


@dataclass
class PgbouncerSwitchResult(JobReport):
    changed: bool
    database: dict[str, Any] | None = None  # the SHOW DATABASES row after the action (before it, in check mode)
    config_change: str | None = None  # "path:line: old -> new"


def validate(request: PgbouncerSwitchRequest) -> None:
    if request.action not in ACTIONS:
        raise DbopsError(f"action must be one of {', '.join(ACTIONS)}, not {request.action!r}")
    if request.timeout <= 0:
        raise DbopsError("timeout must be > 0")
    if request.action == "retarget":
        missing = [name for name in ("config", "target_host", "target_port", "target_dbname")
                   if not getattr(request, name)]
        if missing:
            raise DbopsError(f"action=retarget needs {', '.join(missing)}")


def switch_pgbouncer(request: PgbouncerSwitchRequest, console: AdminConsole | None = None) -> PgbouncerSwitchResult:
    """console: an open admin connection to use (and leave open) instead of a new one, for a caller that sends
    several commands inside one pause (the cutover's switch opens it before its PAUSE)."""
    validate(request)
    result = PgbouncerSwitchResult(changed=False)
    if request.action == "retarget":
        _retarget(request, result, console)
    elif request.action in ("pause", "resume"):
        _pause_or_resume(request, result, console)
    else:
        with _console(request, result, console) as open_console:
            result.database = asdict(_status(open_console, request.database))
    return result


@contextmanager
def _console(request: PgbouncerSwitchRequest, result: PgbouncerSwitchResult,
             shared: AdminConsole | None) -> Iterator[AdminConsole]:
    if shared is None or shared.conn is None:
        with AdminConsole(request.admin_dsn, timeout=request.timeout, queries=result.queries) as console:
            yield console
        return
    queries, timeout = shared.queries, shared.timeout
    shared.queries, shared.timeout = result.queries, request.timeout
    try:
        yield shared
    finally:
        shared.queries, shared.timeout = queries, timeout


def _status(console: AdminConsole, database: str) -> PoolerDatabase:
    return find_database(parse_show_databases(console.run("SHOW DATABASES")), database)


def _pause_or_resume(request: PgbouncerSwitchRequest, result: PgbouncerSwitchResult,
                     shared: AdminConsole | None = None) -> None:
    pausing = request.action == "pause"
    with _console(request, result, shared) as console:
        current = _status(console, request.database)
        result.database = asdict(current)
        if current.paused == pausing:
            return
        command = console.command_text(request.action.upper(), request.database)
        result.changed = True
        if request.check_mode:
            result.queries.append(command)
            return
        try:
            console.run(command)
        except CommandTimedOut:
            if not pausing:
                raise
            # run() closed the PAUSE's connection before raising: only now is a RESUME safe (see pgbouncer_admin).
            _resume_after_timeout(request, result)
            raise PauseTimedOut(f"PAUSE of {request.database!r} did not complete within {request.timeout:g}s "
                                "(a transaction or session still holds a server connection); the database was "
                                "resumed, clients still reach the old target") from None
        result.database = asdict(_status(console, request.database))


def _resume_after_timeout(request: PgbouncerSwitchRequest, result: PgbouncerSwitchResult) -> None:
    with AdminConsole(request.admin_dsn, timeout=request.timeout, queries=result.queries) as fresh:
        fresh.run(fresh.command_text("RESUME", request.database))
        result.database = asdict(_status(fresh, request.database))


def _retarget(request: PgbouncerSwitchRequest, result: PgbouncerSwitchResult,
              shared: AdminConsole | None = None) -> None:
    config = request.config or ""
    target = pgbouncer_ini.Target(host=request.target_host or "", port=int(request.target_port or 0),
                                  dbname=request.target_dbname or "")
    content = pgbouncer_ini.read_config(config)
    change = pgbouncer_ini.plan_retarget(config, content, request.database, target)
    with _console(request, result, shared) as console:
        current = _status(console, request.database)
        result.database = asdict(current)
        shown = current.routes_to(target.host, target.port, target.dbname)
        if not change.changed and shown:
            return
        result.changed = True
        if change.changed:
            result.config_change = change.describe()
            result.queries.append(f"rewrite {change.describe()}")
        if request.check_mode:
            result.queries.append("RELOAD")
            return
        if change.changed:
            pgbouncer_ini.replace_file(config, pgbouncer_ini.apply_change(content, change))
        console.run("RELOAD")
        result.database = asdict(_wait_for_target(console, request, target))


def _wait_for_target(console: AdminConsole, request: PgbouncerSwitchRequest,
                     target: pgbouncer_ini.Target) -> PoolerDatabase:
    deadline = time.monotonic() + request.timeout
    scratch: list[str] = []  # the checks repeat SHOW DATABASES: recorded once
    queries, console.queries = console.queries, scratch
    try:
        while True:
            current = _status(console, request.database)
            if current.routes_to(target.host, target.port, target.dbname):
                return current
            if time.monotonic() >= deadline:
                raise RetargetNotApplied(
                    f"after RELOAD PgBouncer still routes {request.database!r} to {current.host}:{current.port}/"
                    f"{current.database}, not {target.host}:{target.port}/{target.dbname}", path=request.config)
            time.sleep(VERIFY_POLL_S)
    finally:
        console.queries = queries
        queries.append("SHOW DATABASES")

"""The read_only module's engine: emergency read-only mode on PostgreSQL and MongoDB, and its exact undo.

Every change is written to the state file BEFORE it is made (phase "planned", with the values that were there),
and marked "engaged" once made, per database. A rerun after a crash (kill -9 between the record and the change,
or between the two databases) plans again, keeps the recorded previous values (they are the older ones) and
completes the enable; disable restores what the record holds and then forgets that database. The state file
itself is jobs/read_only_state.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only_state import (
    ENGAGED,
    PLANNED,
    StateFile,
    default_state_file,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connect as mongo_connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import engage as mongo_read_only
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import MongoReadOnlyChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import engage as pg_engage
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import planner as pg_planner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import verify as pg_verify
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import PgReadOnlyChange

STATES = ("enabled", "disabled", "status")


@dataclass(frozen=True)
class ReadOnlyRequest:
    databases: DatabaseConnections
    state: str = "enabled"
    mode: str = "hard"
    terminate_writers: bool = True
    exempt_roles: tuple[str, ...] = ()
    state_file: str | None = None
    verify: bool = True
    check_mode: bool = False


@dataclass
class ReadOnlyResult(JobReport):
    changed: bool
    state: str
    state_file: str
    previous: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    probes: list[dict[str, Any]] = field(default_factory=list)
    terminated: list[dict[str, Any]] = field(default_factory=list)
    unfenced: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)  # the databases this run looked at


def uri_user(uri: str) -> str | None:
    """The user a MongoDB URI logs in as (exempt like the PostgreSQL role the collection connects as)."""
    rest = uri.split("://", 1)[-1].split("/", 1)[0]
    if "@" not in rest:
        return None
    return unquote(rest.rsplit("@", 1)[0].split(":", 1)[0]) or None


def validate(request: ReadOnlyRequest) -> None:
    if request.state not in STATES:
        raise DbopsError(f"state must be one of {', '.join(STATES)}, not {request.state!r}")
    if request.mode not in pg_planner.MODES:
        raise DbopsError(f"mode must be one of {', '.join(pg_planner.MODES)}, not {request.mode!r}")
    databases = request.databases
    if not databases.postgres_dsn and not databases.mongodb_uri:
        raise DbopsError("read-only mode needs postgres_dsn and/or mongodb_uri")
    if databases.mongodb_uri and not databases.mongodb_database:
        raise DbopsError("mongodb_database is required with mongodb_uri")


def run_read_only(request: ReadOnlyRequest) -> ReadOnlyResult:
    validate(request)
    path = Path(request.state_file) if request.state_file else default_state_file(request.databases)
    state = StateFile(path)
    result = ReadOnlyResult(changed=False, state=request.state, state_file=str(path),
                            databases=[name for name, given in (("postgres", request.databases.postgres_dsn),
                                                                ("mongodb", request.databases.mongodb_uri)) if given])
    steps = {"enabled": (_enable_postgres, _enable_mongodb), "disabled": (_disable_postgres, _disable_mongodb)}
    if request.state in steps:
        postgres_step, mongodb_step = steps[request.state]
        if request.databases.postgres_dsn:
            postgres_step(request, state, result)
        if request.databases.mongodb_uri:
            mongodb_step(request, state, result)
    result.phases = {name: entry["phase"] for name, entry in state.entries.items()}
    if request.state == "status":
        result.previous = {name: entry["previous"] for name, entry in state.entries.items()}
    return result


def _enable_postgres(request: ReadOnlyRequest, state: StateFile, result: ReadOnlyResult) -> None:
    dsn = request.databases.require_postgres()
    recorded = state.entries.get("postgres")
    with connect(dsn) as conn:
        plan = pg_planner.plan_enable(conn, list(request.exempt_roles), request.mode,
                                      unknown_exempt_ok=bool(request.databases.mongodb_uri))
        change = plan.merged_into(PgReadOnlyChange.from_dict(recorded["previous"])) if recorded else plan
        result.previous["postgres"] = change.to_dict()
        result.unfenced += [f"postgres:{role}" for role in plan.unfenced]
        if plan.unfenced:
            result.warnings.append("superusers are not fenced by read-only mode (only exempt them or trust them): "
                                   + ", ".join(plan.unfenced))
        complete = recorded is not None and recorded["phase"] == ENGAGED and plan.empty
        if request.check_mode:
            result.queries += pg_engage.planned_queries(conn, plan, request.terminate_writers) if not complete else []
            result.changed |= not complete
            return
        if not complete:
            state.record("postgres", PLANNED, change.to_dict())  # before anything is changed
            pg_engage.enable(conn, plan, result.queries)
            if request.terminate_writers:
                result.terminated += pg_engage.terminate_writers(conn, change.fenced_roles, result.queries)
            state.record("postgres", ENGAGED, change.to_dict())
            result.changed = True
        if request.verify:
            pg_verify.verify(conn, dsn, change, result.probes)


def _disable_postgres(request: ReadOnlyRequest, state: StateFile, result: ReadOnlyResult) -> None:
    recorded = state.entries.get("postgres")
    if recorded is None:
        return  # not engaged through this state file: nothing of ours to undo
    result.previous["postgres"] = recorded["previous"]
    with connect(request.databases.require_postgres()) as conn:
        if request.check_mode:
            result.queries += pg_engage.planned_undo(conn, recorded["previous"])
            result.changed = True
            return
        result.warnings += pg_engage.disable(conn, recorded["previous"], result.queries)
        state.forget("postgres")
        result.changed = True
        if request.verify:
            pg_verify.verify_lifted(conn, request.databases.require_postgres(),
                                    PgReadOnlyChange.from_dict(recorded["previous"]), result.probes)


def _mongo_exempt(request: ReadOnlyRequest) -> list[str]:
    user = uri_user(request.databases.mongodb_uri or "")
    return sorted({*request.exempt_roles, *([user] if user else [])})


def _enable_mongodb(request: ReadOnlyRequest, state: StateFile, result: ReadOnlyResult) -> None:
    uri, database = request.databases.require_mongodb()
    recorded = state.entries.get("mongodb")
    client = mongo_connect(uri)
    try:
        plan = mongo_read_only.plan_enable(client, database, _mongo_exempt(request))
        # The recorded previous is the older one: after a crash the plan no longer shows what was already changed.
        change = MongoReadOnlyChange.from_dict(recorded["previous"]) if recorded else plan
        result.previous["mongodb"] = change.to_dict()
        complete = recorded is not None and recorded["phase"] == ENGAGED and plan.empty
        if request.check_mode:
            result.changed |= not complete
            if not complete:
                result.queries.append(f"MongoDB {database}: {plan.mode} read-only for {plan.application_users}")
            return
        if not complete:
            state.record("mongodb", PLANNED, change.to_dict())
            mongo_read_only.enable(client, database, plan, result.queries)
            state.record("mongodb", ENGAGED, change.to_dict())
            result.changed = True
    finally:
        client.close()
    if request.verify:
        mongo_read_only.verify(uri, database, change, result.probes)


def _disable_mongodb(request: ReadOnlyRequest, state: StateFile, result: ReadOnlyResult) -> None:
    recorded = state.entries.get("mongodb")
    if recorded is None:
        return
    uri, database = request.databases.require_mongodb()
    result.previous["mongodb"] = recorded["previous"]
    if request.check_mode:
        result.queries.append(f"restore what the state file records for MongoDB {database}")
        result.changed = True
        return
    client = mongo_connect(uri)
    try:
        mongo_read_only.disable(client, database, recorded["previous"], result.queries)
    finally:
        client.close()
    state.forget("mongodb")
    result.changed = True
    if request.verify:
        mongo_read_only.verify(uri, database, MongoReadOnlyChange.from_dict(recorded["previous"]), result.probes,
                               lifted=True)

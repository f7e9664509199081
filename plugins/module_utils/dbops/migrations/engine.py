"""The one entry point of migrations: run(RunRequest) -> RunResult (what the `migrate` module calls).

Order of a run: discover the sets, check the dependency graph, connect, take the runner lock(s), read the
ledgers (after the lock, so a runner that waited sees what the other did), refuse drift, plan, pre-flight every
action (destructive guard, reversibility) and only then change anything. Check mode stops after planning and
changes nothing (no lock, no ledger schema).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import asdict

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import secrets_in_connection_string
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.applied_verification import verify_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.baseline import Baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.coordinator import Coordinator
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.dependency_graph import DependencyGraph
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_boundary import (
    PartBoundary,
    describe_cause,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    LedgerEntry,
    PartExecutor,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.planner import (
    SET_APPLIED,
    Plan,
    check_drift,
    ledger_entry,
    make_plan,
    set_states,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.repeatable import versioned_only
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import RunResult
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import (
    InvalidParameter,
    RunRequest,
    validate_request,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import ZERO, version_key


def build_executors(request: RunRequest) -> dict[str, PartExecutor]:
    """A PostgreSQL executor when postgres_dsn is given; a MongoDB one (imported lazily) when mongodb_uri is."""
    executors: dict[str, PartExecutor] = {}
    if request.postgres_dsn:
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_executor import (
            PostgresPartExecutor,
        )

        executors["postgres"] = PostgresPartExecutor(request.postgres_dsn)
    if request.mongodb_uri:
        if not request.mongodb_database:
            raise InvalidParameter("mongodb_uri is given but mongodb_database is not: name the MongoDB database")
        # Imported here, not at the top, so a PostgreSQL-only run never loads pymongo; written as a static import
        # so Ansible's module packer ships the MongoDB executor with the module.
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_executor import (
            MongoPartExecutor,
        )

        executors["mongodb"] = MongoPartExecutor(request.mongodb_uri, request.mongodb_database)
    return executors


def _known_secrets(request: RunRequest) -> tuple[str, ...]:
    found: list[str] = []
    for value in (getattr(request, "postgres_dsn", None), getattr(request, "mongodb_uri", None)):
        if isinstance(value, str):  # a wrong type is refused by validate_request, which never echoes it
            found.extend(secrets_in_connection_string(value))
    return tuple(found)


def _current(sets: list[MigrationSet], ledgers: dict, orphans: list[str]) -> tuple[str, list[str], list[str]]:
    states = set_states(sets, ledgers)
    applied = [s.version for s in sets if states[s.version].state == SET_APPLIED] + orphans
    pending = [s.version for s in sets if states[s.version].state != SET_APPLIED]
    versions = versioned_only(applied)
    current = max(versions, key=version_key) if versions else ZERO
    return current, applied, pending


def _status_sets(sets: list[MigrationSet], ledgers: dict) -> list[dict]:
    """state=status: each set with the state of each of its parts as that part's own ledger records it."""
    states = set_states(sets, ledgers)
    report = []
    for mset in sets:
        parts, duration = {}, 0
        for part in mset.parts():
            entry = ledger_entry(ledgers.get(part, {}), mset.version)
            parts[part] = entry.status if entry is not None else "pending"
            duration += (entry.duration_ms or 0) if entry is not None else 0
        report.append({"version": mset.version, "name": mset.slug, "action": "status", "parts": parts,
                       "status": states[mset.version].state, "duration_ms": duration, "error": None})
    return report


def _predicted_after(plan: Plan) -> str:
    """The current version once the plan has run (for check mode and diffs)."""
    applied = set(plan.applied)
    for action in plan.actions:
        if action.action in ("apply", "resume"):
            applied.add(action.version)
        else:
            applied.discard(action.version)
    versions = versioned_only(applied)
    return max(versions, key=version_key) if versions else ZERO


def _options(request: RunRequest, warnings: list[str]) -> RunOptions:
    return RunOptions(
        run_id=uuid.uuid4().hex, check_mode=request.check_mode, allow_destructive=request.allow_destructive,
        allow_drift=request.allow_drift, lock_timeout_ms=int(request.lock_timeout_ms),
        ddl_retries=int(request.ddl_retries),
        batch_size=None if request.batch_size is None else int(request.batch_size),
        runner_lock_wait_s=float(request.runner_lock_wait_s), on_partial=request.on_partial, warnings=warnings,
    )


# Called with the planned (and pre-flighted) result before anything is written, in check mode too: a caller's own
# checks of the plan (a linter, an approval) that stop the run by raising a DbopsError.
PlanGate = Callable[[RunResult], None]


def run(request: RunRequest, *, executors: dict[str, PartExecutor] | None = None,
        gate: PlanGate | None = None) -> RunResult:
    """Plan, apply, roll back or report migration sets. Raises DbopsError (with .result) when something fails.

    Whatever fails, the error leaves through RunResult.attach_to (redacted, with what was done attached).
    """
    result = RunResult(known_secrets=_known_secrets(request))
    try:
        return _run(validate_request(request), executors, result, gate)
    except DbopsError as exc:
        result.attach_to(exc)
        raise
    except Exception as exc:  # a bug in the engine itself: still one clear message, no secrets
        raise result.attach_to(MigrationFailed(f"unexpected {describe_cause(exc)}")) from exc


def _read_ledgers(parts: dict[str, PartBoundary], warnings: list[str]) -> dict[str, dict[str, LedgerEntry]]:
    """Every part's ledger, and what the executors noticed on the way (a layout upgrade pending or done)."""
    ledgers = {name: part.ledger() for name, part in parts.items()}
    for part in parts.values():
        warnings.extend(note for note in part.notes() if note not in warnings)
    return ledgers


def _take_over(request: RunRequest, fmt: str, sets: list[MigrationSet], parts: dict[str, PartBoundary],
               ledgers: dict[str, dict[str, LedgerEntry]], opts: RunOptions) -> Baseline:
    """What another tool's history adds to the PostgreSQL ledger (read only); planning sees it as applied."""
    postgres = parts.get("postgres")
    if request.adopt == "none":
        return Baseline()
    if postgres is None:
        if request.adopt != "auto":
            opts.warnings.append(f"adopt is {request.adopt}, but no postgres_dsn is given: nothing to take over")
        return Baseline()
    baseline = postgres.plan_baseline(sets, fmt, request.adopt, opts)
    if baseline.entries:
        ledgers["postgres"] = {**ledgers.get("postgres", {}), **baseline.as_ledger()}
    return baseline


def _run(request: RunRequest, executors: dict[str, PartExecutor] | None, result: RunResult,
         gate: PlanGate | None = None) -> RunResult:
    result.format, sets = discover(request.migrations_dir, request.placeholders)
    if request.placeholders and result.format != "flyway":
        result.warnings.append(f"placeholders are Flyway's; migrations_dir is in {result.format} format: ignored")
    graph = DependencyGraph(sets)
    raw = executors if executors is not None else build_executors(request)
    parts = {name: PartBoundary(name, executor, result.known_secrets) for name, executor in raw.items()}
    opts = _options(request, result.warnings)
    locking = not request.check_mode and request.state != "status"
    connected: list[PartBoundary] = []
    try:
        for part in parts.values():
            part.connect()
            connected.append(part)
        if locking:
            for part in parts.values():
                part.acquire_runner_lock(opts.runner_lock_wait_s)
        ledgers = _read_ledgers(parts, result.warnings)
        baseline = _take_over(request, result.format, sets, parts, ledgers, opts)
        check_drift(sets, ledgers, request.allow_drift, result.warnings)
        plan = make_plan(sets, graph, ledgers, state=request.state, target=str(request.target),
                         on_partial=request.on_partial)
        result.warnings.extend(plan.warnings)
        result.before = result.current = plan.current
        result.pending = list(plan.pending)
        coordinator = Coordinator(parts, opts, result.queries)
        result.plan = coordinator.preflight(plan.actions)
        if gate is not None:
            gate(result)
        if request.check_mode or request.state == "status":
            result.baseline = baseline.to_dict()
            _report_plan(request, plan, sets, ledgers, result)
            if request.state == "status" and request.verify_applied:
                states = set_states(sets, ledgers)
                result.verification = verify_applied(
                    parts, [mset for mset in sets if states[mset.version].state == SET_APPLIED],
                    check_mode=request.check_mode)
            result.changed = result.changed or bool(baseline.entries)
            return result
        if baseline.entries:  # every pre-flight check passed: only now is anything written
            parts["postgres"].record_baseline(baseline, opts)
            result.changed = True
        result.baseline = baseline.to_dict()
        _execute(plan, coordinator, result)
        ledgers = _read_ledgers(parts, result.warnings)
        result.after, _applied_now, result.pending = _current(sets, ledgers, plan.orphans)
        result.current = result.after
        return result
    finally:
        for part in reversed(connected):
            # Closing the connection releases the runner lock anyway; a failure here must not hide the run's error.
            if locking:
                with contextlib.suppress(DbopsError):
                    part.release_runner_lock()
            with contextlib.suppress(DbopsError):
                part.close()


def _report_plan(request: RunRequest, plan: Plan, sets: list[MigrationSet], ledgers: dict, result: RunResult) -> None:
    """Check mode and state=status: what would run, changing nothing."""
    result.queries.extend(q for entry in result.plan for steps in entry["statements"].values() for q in steps)
    result.changed = bool(plan.actions)
    result.after = _predicted_after(plan)
    if request.state == "status":
        result.sets = _status_sets(sets, ledgers)
    for action in plan.actions:
        target_list = result.applied if action.action in ("apply", "resume") else result.rolled_back
        target_list.append(action.version)


def _execute(plan: Plan, coordinator: Coordinator, result: RunResult) -> None:
    for action in plan.actions:
        try:
            outcome = coordinator.run(action)
        except DbopsError as exc:
            if exc.outcome is not None:  # set by the coordinator when the set was started
                result.sets.append(asdict(exc.outcome))
            result.failed = action.version
            raise
        result.sets.append(asdict(outcome))
        result.changed = True
        if action.action in ("apply", "resume"):
            result.applied.append(action.version)
        else:
            result.rolled_back.append(action.version)

"""The one entry point of migrations: run(RunRequest) -> RunResult (what the `migrate` module calls).

Order of a run: discover the sets, check the dependency graph, connect, take the runner lock(s), read the
ledgers (after the lock, so a runner that waited sees what the other did), refuse drift, plan, pre-flight every
action (destructive guard, reversibility) and only then change anything. Check mode stops after planning and
changes nothing (no lock, no ledger schema).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.coordinator import Coordinator
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.dependency_graph import DependencyGraph
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
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
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import RunResult
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import ZERO, version_key
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import mask_secrets

STATES = ("applied", "rolled_back", "status")


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
    lock_timeout_ms: int = 3000  # lock_timeout of migration statements
    ddl_retries: int = 5  # retries after a lock_timeout, with exponential backoff
    runner_lock_wait_s: float = 60.0  # how long to wait for another runner
    batch_size: int | None = None  # overrides every backfill's batch_size
    on_partial: str = "resume"  # resume | compensate: what to do with half-applied sets
    check_mode: bool = False


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
            raise DbopsError("mongodb_uri is given but mongodb_database is not: name the MongoDB database")
        # Imported here, not at the top, so a PostgreSQL-only run never loads pymongo; written as a static import
        # so Ansible's module packer ships the MongoDB executor with the module.
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_executor import (
            MongoPartExecutor,
        )

        executors["mongodb"] = MongoPartExecutor(request.mongodb_uri, request.mongodb_database)
    return executors


def _validate_request(request: RunRequest) -> None:
    if request.state not in STATES:
        raise DbopsError(f"state must be one of {', '.join(STATES)}, not {request.state!r}")
    if request.on_partial not in ("resume", "compensate"):
        raise DbopsError(f"on_partial must be resume or compensate, not {request.on_partial!r}")
    if request.lock_timeout_ms is None or request.lock_timeout_ms <= 0:
        raise DbopsError("lock_timeout must be positive (0 would let DDL wait forever behind other sessions)")
    if request.ddl_retries is None or request.ddl_retries < 0:
        raise DbopsError("ddl_retries must not be negative")
    if request.batch_size is not None and request.batch_size <= 0:
        raise DbopsError("batch_size must be positive")
    if not request.postgres_dsn and not request.mongodb_uri:
        raise DbopsError("nothing to connect to: give postgres_dsn and/or mongodb_uri")


def _current(sets: list[MigrationSet], ledgers: dict, orphans: list[str]) -> tuple[str, list[str], list[str]]:
    states = set_states(sets, ledgers)
    applied = [s.version for s in sets if states[s.version].state == SET_APPLIED] + orphans
    pending = [s.version for s in sets if states[s.version].state != SET_APPLIED]
    current = max(applied, key=version_key) if applied else ZERO
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
    return max(applied, key=version_key) if applied else ZERO


def run(request: RunRequest, *, executors: dict[str, PartExecutor] | None = None) -> RunResult:
    """Plan, apply, roll back or report migration sets. Raises DbopsError (with .result) when something fails."""
    result = RunResult()
    _validate_request(request)
    result.format, sets = discover(request.migrations_dir)
    graph = DependencyGraph(sets)
    executors = executors if executors is not None else build_executors(request)
    opts = RunOptions(
        run_id=uuid.uuid4().hex, check_mode=request.check_mode, allow_destructive=request.allow_destructive,
        allow_drift=request.allow_drift, lock_timeout_ms=int(request.lock_timeout_ms),
        ddl_retries=int(request.ddl_retries), batch_size=request.batch_size,
        runner_lock_wait_s=float(request.runner_lock_wait_s), on_partial=request.on_partial,
        warnings=result.warnings,
    )
    locking = not request.check_mode and request.state != "status"
    connected: list[PartExecutor] = []
    try:
        for executor in executors.values():
            executor.connect()
            connected.append(executor)
        if locking:
            for executor in executors.values():
                executor.acquire_runner_lock(opts.runner_lock_wait_s)
        ledgers = {name: executor.ledger() for name, executor in executors.items()}
        check_drift(sets, ledgers, request.allow_drift, result.warnings)
        plan = make_plan(sets, graph, ledgers, state=request.state, target=str(request.target),
                         on_partial=request.on_partial)
        result.warnings.extend(plan.warnings)
        result.before = result.current = plan.current
        result.pending = list(plan.pending)
        coordinator = Coordinator(executors, opts, result.queries)
        result.plan = coordinator.preflight(plan.actions)
        if request.check_mode or request.state == "status":
            result.queries.extend(mask_secrets(q) for entry in result.plan for steps in entry["statements"].values()
                                  for q in steps)
            result.changed = bool(plan.actions)
            result.after = _predicted_after(plan)
            if request.state == "status":
                result.sets = _status_sets(sets, ledgers)
            for action in plan.actions:
                target_list = result.applied if action.action in ("apply", "resume") else result.rolled_back
                target_list.append(action.version)
            return result
        _execute(plan, coordinator, result)
        ledgers = {name: executor.ledger() for name, executor in executors.items()}
        result.after, _applied_now, result.pending = _current(sets, ledgers, plan.orphans)
        result.current = result.after
        result.queries[:] = [mask_secrets(q) for q in result.queries]
        return result
    except DbopsError as exc:
        exc.result = result
        result.queries[:] = [mask_secrets(q) for q in result.queries]
        raise
    except Exception as exc:  # a driver error the engine did not expect: still one clear message, no secrets
        error = MigrationFailed(f"unexpected {type(exc).__name__}: {mask_secrets(str(exc))}")
        error.result = result
        raise error from exc
    finally:
        for executor in reversed(connected):
            try:
                if locking:
                    executor.release_runner_lock()
            except Exception:  # closing the connection releases it anyway
                pass
            finally:
                executor.close()


def _execute(plan: Plan, coordinator: Coordinator, result: RunResult) -> None:
    for action in plan.actions:
        try:
            outcome = coordinator.run(action)
        except DbopsError as exc:
            outcome = getattr(exc, "outcome", None)
            if outcome is not None:
                result.sets.append(asdict(outcome))
            result.failed = action.version
            raise
        result.sets.append(asdict(outcome))
        result.changed = True
        if action.action in ("apply", "resume"):
            result.applied.append(action.version)
        else:
            result.rolled_back.append(action.version)

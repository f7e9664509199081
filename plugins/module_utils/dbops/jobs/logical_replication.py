"""The logical_replication module's engine: PostgreSQL green from blue (or back) by logical replication.

One direction is one flow: publication and slot on the source, subscription on the target, all named after the
direction (cutover/names.py). States: present (guardrails, roles, schema, fence table, ledger, publication,
subscription, initial copy), refreshed (tables added on the source since), disabled / enabled (the subscription),
absent (everything of the flow, also when one side is unreachable) and status. Check mode reads, plans and lists
the statements in `queries`; it changes nothing and waits for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import (
    catalogue,
    guardrails,
    initial_copy,
    statements,
    subscription_status,
    switch_steps,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.objects import (
    ReplicationObjects,
    replication_objects,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.plan import carry_out, prefixed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.present import (
    PresentOptions,
    plan_present,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.refresh import (
    RefreshOptions,
    plan_refresh,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import Table
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.steps import SOURCE, TARGET
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import (
    DEFAULT_BIN_DIR,
    PgBinaries,
)

STATES = ("present", "refreshed", "disabled", "enabled", "absent", "status")


@dataclass(frozen=True)
class LogicalReplicationRequest:
    source_dsn: str
    target_dsn: str
    direction: str = "blue_to_green"
    state: str = "present"
    copy_data: bool = True
    copy_schema: bool = True
    copy_roles: bool = True
    wait_for_copy: bool = True
    timeout: float = 600.0
    max_transaction_age: float = 300.0
    pg_bin_dir: str = DEFAULT_BIN_DIR
    subscriber_conninfo: str | None = None  # how the target server reaches the source; default source_dsn
    check_mode: bool = False


@dataclass
class LogicalReplicationResult(JobReport):
    changed: bool
    state: str
    direction: str
    name: str
    tables: list[str] = field(default_factory=list)
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    subscription: dict[str, Any] = field(default_factory=dict)
    roles_created: list[str] = field(default_factory=list)
    schema_copied: bool = False
    ledger_copied: bool = False
    tables_added: list[str] = field(default_factory=list)
    copy_progress: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def validate(request: LogicalReplicationRequest) -> ReplicationObjects:
    if request.state not in STATES:
        raise DbopsError(f"state must be one of {', '.join(STATES)}, not {request.state!r}")
    if not request.source_dsn or not request.target_dsn:
        raise DbopsError("source_dsn and target_dsn are both required")
    if request.timeout <= 0:
        raise DbopsError("timeout must be > 0")
    if request.max_transaction_age < 0:
        raise DbopsError("max_transaction_age must be >= 0")
    return replication_objects(request.direction)


def _connect(dsn: str, side: str) -> Any:
    try:
        return connect(dsn)
    except ConnectionFailed as exc:
        raise ConnectionFailed(f"{side} ({side}_dsn): {exc.message}") from None


@contextmanager
def _sides(request: LogicalReplicationRequest, *, optional: bool) -> Iterator[tuple[Any | None, Any | None, list[str]]]:
    """Both connections; with optional, an unreachable side is None and a note says so (one side must answer)."""
    notes: list[str] = []
    with ExitStack() as stack:
        conns: list[Any | None] = []
        errors: list[str] = []
        for dsn, side in ((request.source_dsn, SOURCE), (request.target_dsn, TARGET)):
            try:
                conn = _connect(dsn, side)
            except ConnectionFailed as exc:
                if not optional:
                    raise
                errors.append(str(exc))
                conns.append(None)
                continue
            stack.enter_context(conn)
            conns.append(conn)
        if all(conn is None for conn in conns):
            raise ConnectionFailed("neither side is reachable: " + "; ".join(errors))
        notes.extend(errors)
        yield conns[0], conns[1], notes


def manage(request: LogicalReplicationRequest) -> LogicalReplicationResult:
    objects = validate(request)
    result = LogicalReplicationResult(changed=False, state=request.state, direction=request.direction,
                                      name=objects.name)
    optional = request.state in ("absent", "status", "disabled", "enabled")
    with _sides(request, optional=optional) as (source, target, notes):
        result.notes.extend(notes)
        if request.state == "present":
            _present(request, objects, source, target, result)
        elif request.state == "refreshed":
            _refreshed(request, objects, source, target, result)
        elif request.state in ("disabled", "enabled"):
            _toggle(request, objects, _require(target, TARGET, request.state), result)
        elif request.state == "absent":
            _absent(request, objects, source, target, result)
        result.subscription = _status(source, target, objects)
    return result


def _require(conn: Any | None, side: str, state: str) -> Any:
    if conn is None:
        raise ConnectionFailed(f"state={state} needs the {side}, which is not reachable")
    return conn


def _names(tables: list[Table]) -> list[str]:
    return [f"{schema}.{table}" for schema, table in tables]


def _guardrail_rows(checks: list[guardrails.GuardrailCheck]) -> list[dict[str, Any]]:
    return [{"check": check.name, "ok": check.passed, "detail": check.detail} for check in checks]


def _present(request: LogicalReplicationRequest, objects: ReplicationObjects, source: Any, target: Any,
             result: LogicalReplicationResult) -> None:
    options = PresentOptions(source_dsn=request.source_dsn, target_dsn=request.target_dsn,
                             subscriber_conninfo=request.subscriber_conninfo or request.source_dsn,
                             copy_data=request.copy_data, copy_schema=request.copy_schema,
                             copy_roles=request.copy_roles, max_transaction_age=request.max_transaction_age,
                             binaries=PgBinaries(request.pg_bin_dir))
    plan = plan_present(source, target, objects, options)
    result.guardrails = _guardrail_rows(plan.guardrails)
    result.tables = _names(plan.tables)
    result.roles_created = plan.roles_created
    result.schema_copied = plan.schema_copied
    result.ledger_copied = plan.ledger_copied
    carry_out(plan.actions, result.queries, check_mode=request.check_mode)
    result.changed = bool(plan.actions)
    if not request.check_mode and request.wait_for_copy:
        _wait(target, objects, len(plan.tables), request, result)


def _refreshed(request: LogicalReplicationRequest, objects: ReplicationObjects, source: Any, target: Any,
               result: LogicalReplicationResult) -> None:
    options = RefreshOptions(source_dsn=request.source_dsn, target_dsn=request.target_dsn,
                             copy_data=request.copy_data, with_owners=request.copy_roles,
                             binaries=PgBinaries(request.pg_bin_dir))
    plan = plan_refresh(source, target, objects, options)
    result.guardrails = _guardrail_rows(plan.guardrails)
    result.tables = _names(plan.tables)
    result.tables_added = _names(plan.added)
    result.notes.extend(plan.notes)
    carry_out(plan.actions, result.queries, check_mode=request.check_mode)
    result.changed = bool(plan.actions)
    if not request.check_mode and request.wait_for_copy:
        _wait(target, objects, len(plan.tables), request, result)


def _wait(target: Any, objects: ReplicationObjects, expected: int, request: LogicalReplicationRequest,
          result: LogicalReplicationResult) -> None:
    readings = initial_copy.wait_for_initial_copy(target, objects.subscription, expected_tables=expected,
                                                  timeout=request.timeout)
    result.copy_progress = [asdict(reading) for reading in readings]


def _toggle(request: LogicalReplicationRequest, objects: ReplicationObjects, target: Any,
            result: LogicalReplicationResult) -> None:
    wanted = request.state == "enabled"
    if catalogue.subscription_oid(target, objects.subscription) is None:
        raise switch_steps.SubscriptionNotFound(f"the target has no subscription {objects.subscription}")
    if request.check_mode:
        enabled = bool(target.execute("SELECT subenabled FROM pg_subscription WHERE subname = %s",
                                      (objects.subscription,)).fetchone()[0])
        if enabled != wanted:
            result.queries.append(f"{TARGET}: "
                                  + statements.alter_subscription_enabled(objects.subscription, wanted).as_string(None))
            result.changed = True
        return
    done: list[str] = []
    if wanted:
        result.changed = switch_steps.enable_subscription(target, objects.subscription, done)
    else:
        result.changed = switch_steps.disable_subscription(target, objects.subscription, done)
    result.queries.extend(prefixed(TARGET, done))


def _absent(request: LogicalReplicationRequest, objects: ReplicationObjects, source: Any | None, target: Any | None,
            result: LogicalReplicationResult) -> None:
    name = objects.name
    if target is None:
        result.notes.append(f"the target is not reachable: its subscription {name} (if any) is left; run "
                            "state=absent again once it is reachable")
    if source is None:
        result.notes.append(f"the source is not reachable: its slot and publication {name} (if any) are left, "
                            "and the slot keeps WAL on the source; run state=absent again once it is reachable")
    if request.check_mode:
        planned: list[str] = []
        if target is not None and catalogue.subscription_oid(target, name) is not None:
            planned += prefixed(TARGET, [query.as_string(None) for query in statements.drop_subscription(name)])
        if source is not None:
            if catalogue.slot_exists(source, objects.slot):
                planned += prefixed(SOURCE, [statements.drop_slot(objects.slot).as_string(None)])
            if catalogue.publication_exists(source, name):
                planned += prefixed(SOURCE, [statements.drop_publication(name).as_string(None)])
        result.queries.extend(planned)
        result.changed = bool(planned)
        return
    # The subscriber first: its slot is detached (slot_name = NONE), then dropped on the publisher.
    on_target: list[str] = []
    on_source: list[str] = []
    changed = switch_steps.drop_flow(None, target, name, on_target) if target is not None else False
    result.queries.extend(prefixed(TARGET, on_target))
    if source is not None:
        changed = switch_steps.drop_flow(source, None, name, on_source) or changed
        result.queries.extend(prefixed(SOURCE, on_source))
    result.changed = changed


def _status(source: Any | None, target: Any | None, objects: ReplicationObjects) -> dict[str, Any]:
    status = subscription_status.read_status(source, target, objects.subscription)
    values = asdict(status)
    values["tables_ready"] = status.tables_ready
    values["tables_total"] = status.tables_total
    return values

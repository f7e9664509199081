"""state=present: guardrails first, then what the target and the source still lack, in this order: the source's
roles, its schema, the fence table (both sides), the migration ledger (copied once), the publication (explicit
table list), the subscription (it creates the slot and starts the initial copy).

Everything is read and planned before the first change, so a refused guardrail leaves both sides as they were and
check mode shows the exact actions. A rerun plans only what is still missing: nothing once all is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import (
    catalogue,
    guardrails,
    schema_copy,
    statements,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.objects import ReplicationObjects
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.plan import (
    Action,
    prefixed,
    statement_action,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.role_statements import (
    RoleScript,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import Table
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.steps import (
    SOURCE,
    TARGET,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import PgBinaries


@dataclass(frozen=True)
class PresentOptions:
    source_dsn: str
    target_dsn: str
    subscriber_conninfo: str  # how the target server reaches the source
    copy_data: bool
    copy_schema: bool
    copy_roles: bool
    max_transaction_age: float
    binaries: PgBinaries


@dataclass
class PresentPlan:
    guardrails: list[guardrails.GuardrailCheck]
    tables: list[Table]
    actions: list[Action] = field(default_factory=list)
    roles_created: list[str] = field(default_factory=list)
    schema_copied: bool = False
    ledger_copied: bool = False


def _fence_action(conn: Any, side: str) -> Action:
    shown = prefixed(side, [statements.ensure_fence_schema().as_string(None),
                            statements.ensure_fence_table_statement().as_string(None)])

    def run(queries: list[str]) -> None:
        done: list[str] = []
        statements.ensure_fence_table(conn, done)
        queries.extend(prefixed(side, done))

    return Action(f"create {'.'.join(statements.FENCE_TABLE)} on the {side}", shown, run)


def _roles_action(target: Any, options: PresentOptions, script: RoleScript) -> Action:
    argv = schema_copy.roles_argv(options.binaries, options.source_dsn)
    shown = [f"{SOURCE}: {' '.join(argv)}"] + [f"{TARGET}: CREATE ROLE {name} (as dumped by pg_dumpall)"
                                               for name in script.created]
    return Action("copy the roles", shown,
                  partial(schema_copy.copy_roles, options.binaries, options.source_dsn, target))


def plan_present(source: Any, target: Any, objects: ReplicationObjects, options: PresentOptions) -> PresentPlan:
    """Reads both sides (and the source's roles with pg_dumpall): the guardrails and the actions still to do.
    Raises GuardrailRefused, with every failed check, before any action exists."""
    name = objects.name
    tables = statements.published_tables(source)
    subscription = catalogue.subscription_oid(target, name)
    scope = guardrails.GuardrailScope(creates_subscription=subscription is None,
                                      max_transaction_age=options.max_transaction_age,
                                      copies_data=options.copy_data, copies_schema=options.copy_schema)
    checks = guardrails.run_guardrails(source, target, tables, scope)
    guardrails.refuse_failed(checks)
    plan = PresentPlan(checks, tables)
    with_owners = options.copy_roles

    if options.copy_roles:
        script = schema_copy.read_role_script(options.binaries, options.source_dsn, target)
        if script.created:
            plan.actions.append(_roles_action(target, options, script))
            plan.roles_created = list(script.created)

    application = [table for table in tables if table != statements.FENCE_TABLE]
    if options.copy_schema and application and not set(application) & set(statements.application_tables(target)):
        shown = schema_copy.plan_schema(options.binaries, options.source_dsn, options.target_dsn,
                                        with_owners=with_owners)
        plan.actions.append(Action("copy the schema", shown, partial(
            schema_copy.copy_schema, options.binaries, options.source_dsn, options.target_dsn,
            with_owners=with_owners)))
        plan.schema_copied = True

    for conn, side in ((source, SOURCE), (target, TARGET)):
        if not statements.fence_table_exists(conn):
            plan.actions.append(_fence_action(conn, side))

    ledger = statements.ledger_tables(source)
    if ledger and not statements.ledger_tables(target):
        plan.actions.append(Action(
            "copy the migration ledger",
            schema_copy.plan_tables(options.binaries, options.source_dsn, options.target_dsn, ledger,
                                    with_data=True, with_owners=with_owners),
            partial(schema_copy.copy_tables, options.binaries, options.source_dsn, options.target_dsn, ledger,
                    with_data=True, with_owners=with_owners)))
        plan.ledger_copied = True

    if not catalogue.publication_exists(source, name):
        plan.actions.append(statement_action(source, SOURCE, "create the publication",
                                             statements.create_publication(name, tables)))
    else:
        published = set(catalogue.publication_tables(source, name))
        missing = [table for table in tables if table not in published]
        if missing:
            plan.actions.append(statement_action(source, SOURCE, "add tables to the publication",
                                                 statements.add_publication_tables(name, missing)))

    if subscription is None:
        if catalogue.slot_exists(source, objects.slot):
            # A slot without its subscription is a leftover of an interrupted set-up (the target's tables are
            # empty: the guardrail target_empty checked): CREATE SUBSCRIPTION would refuse to create it again.
            plan.actions.append(statement_action(source, SOURCE, "drop the leftover slot",
                                                 statements.drop_slot(objects.slot)))
        statement = statements.create_subscription(name, options.subscriber_conninfo, objects.publication,
                                                   copy_data=options.copy_data, create_slot=True,
                                                   slot_name=objects.slot, enabled=True)
        plan.actions.append(statement_action(target, TARGET, "create the subscription", statement.query,
                                             statement.masked))
    return plan

"""state=refreshed: DDL is not replicated, so a table created on the source after the set-up (an expand set
applied to it, or to both sides) is published and subscribed to here.

Tables on the source that the publication lacks are checked (replica identity), created on the target when it
lacks them (`pg_dump --schema-only -t`), added to the publication, and `ALTER SUBSCRIPTION .. REFRESH PUBLICATION`
makes the subscription copy them (copy_data) and stream them. The refresh also runs when the publication already
lists a table the subscription does not (a run interrupted between the two), so a rerun completes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import (
    catalogue,
    guardrails,
    schema_copy,
    statements,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.objects import ReplicationObjects
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.plan import Action, statement_action
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.schema_gaps import schema_gaps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import Table
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.steps import (
    SOURCE,
    TARGET,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import PgBinaries


class NoSubscription(DbopsError):
    """The target has no subscription of the direction (state=present first)."""


@dataclass(frozen=True)
class RefreshOptions:
    source_dsn: str
    target_dsn: str
    copy_data: bool
    with_owners: bool
    binaries: PgBinaries


@dataclass
class RefreshPlan:
    guardrails: list[guardrails.GuardrailCheck]
    tables: list[Table]  # what the publication lists once refreshed
    added: list[Table] = field(default_factory=list)  # new in the publication
    created_on_target: list[Table] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_refresh(source: Any, target: Any, objects: ReplicationObjects, options: RefreshOptions) -> RefreshPlan:
    name = objects.name
    subscription = catalogue.subscription_oid(target, name)
    if subscription is None:
        raise NoSubscription(f"the target has no subscription {name}: set it up first (state=present)")
    if not catalogue.publication_exists(source, name):
        raise NoSubscription(f"the source has no publication {name}: set it up again (state=absent, then present)")
    wanted = [table for table in statements.published_tables(source) if table != statements.FENCE_TABLE
              or statements.fence_table_exists(source)]
    published = set(catalogue.publication_tables(source, name))
    added = [table for table in wanted if table not in published]
    checks = [guardrails.check_replica_identity(source, added)] if added else []
    guardrails.refuse_failed(checks)
    plan = RefreshPlan(checks, sorted(published | set(added)), added)
    # Only reported: DDL applied to one side alone stops a flow at its first row of the changed table.
    plan.notes += [f"the forward flow stops on the target: {gap}" for gap in schema_gaps(source, target)
                   if not any(gap.startswith(f"table {table[0]}.{table[1]} is missing") for table in added)]
    # The reverse flow of a switch publishes only what both sides have (switch_steps.start_flow_without_copy).
    plan.notes += [("after a switch, the reverse flow (for a fallback) leaves out what the source lacks: "
                    f"{gap.removeprefix('table ')}")
                   for gap in schema_gaps(target, source)]

    on_target = set(statements.application_tables(target))
    missing = [table for table in added if table not in on_target and table != statements.FENCE_TABLE]
    if missing:
        plan.created_on_target = missing
        plan.actions.append(Action(
            "create the new tables on the target",
            schema_copy.plan_tables(options.binaries, options.source_dsn, options.target_dsn, missing,
                                    with_data=False, with_owners=options.with_owners),
            partial(schema_copy.copy_tables, options.binaries, options.source_dsn, options.target_dsn, missing,
                    with_data=False, with_owners=options.with_owners)))
    if added:
        plan.actions.append(statement_action(source, SOURCE, "add the new tables to the publication",
                                             statements.add_publication_tables(name, added)))
    subscribed = set(catalogue.subscribed_tables(target, subscription))
    if added or set(plan.tables) - subscribed:
        plan.actions.append(statement_action(target, TARGET, "refresh the subscription",
                                             statements.refresh_subscription(name, options.copy_data)))
    return plan

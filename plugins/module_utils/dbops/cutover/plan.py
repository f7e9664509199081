"""What a switch would do, for check mode: the steps in order and the statements and commands of each, read from
the servers as they are now; nothing is changed and nothing is waited for."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.fence import (
    FenceRecord,
    planned_fence_queries,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import (
    FENCE_COLLECTION,
    FENCE_TABLE,
    SwitchSides,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import OpenSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import SwitchOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import pgbouncer_target


def planned_switch(sides: OpenSides, switch: SwitchSides, options: SwitchOptions, old_fence: FenceRecord,
                   new_fence: FenceRecord) -> tuple[list[dict[str, Any]], list[str]]:
    postgres, mongodb = bool(sides.pg), bool(sides.mongo)
    old, new = switch.old, switch.new
    traffic = options.traffic
    plan: dict[str, list[str]] = {step: [] for step in steps.ORDER}
    plan[steps.FENCE_NEW] = planned_fence_queries(sides, new, new_fence)
    if postgres:
        target = pgbouncer_target(sides.endpoints.postgres_dsn(new) or "")
        plan[steps.CATCH_UP].append(f"postgres:{old}: wait until slot {switch.forward} lags at most "
                                    f"{options.max_lag_bytes} bytes")
        plan[steps.CATCH_UP].append(f"postgres:{new}: publication {switch.reverse} (the tables both sides have)")
        plan[steps.PAUSE].append(f'pgbouncer: PAUSE "{traffic.pgbouncer_database}"')
        fence_table = ".".join(FENCE_TABLE)
        plan[steps.FENCE_TOKEN].append(f"postgres:{old}: INSERT INTO {fence_table} (cutover, side, token) "  # noqa: S608
                                       "VALUES (...); SELECT pg_current_wal_lsn()")
        plan[steps.WAIT_NEW].append(f"postgres:{new}: until the token row is there")
        plan[steps.DISABLE_FORWARD].append(f"postgres:{new}: ALTER SUBSCRIPTION {switch.forward} DISABLE; end its "
                                           "apply worker")
        plan[steps.SEQUENCES].append(f"postgres:{new}: setval every sequence to {old}'s last_value + "
                                     f"{options.sequence_headroom} (never lower)")
        plan[steps.REVERSE_FLOW].append(f"postgres:{new}: SELECT pg_create_logical_replication_slot("
                                        f"'{switch.reverse}', 'pgoutput')")
        plan[steps.REVERSE_SUBSCRIPTION].append(f"postgres:{old}: CREATE SUBSCRIPTION {switch.reverse} ... WITH "
                                                "(copy_data = false, create_slot = false, slot_name = "
                                                f"'{switch.reverse}') once the forward apply worker has exited")
        plan[steps.RETARGET].append(f"pgbouncer: {traffic.pgbouncer_config}: [{traffic.pgbouncer_database}] -> "
                                    f"host={target[0]} port={target[1]} dbname={target[2]}; RELOAD")
        plan[steps.RESUME].append(f'pgbouncer: RESUME "{traffic.pgbouncer_database}"')
        plan[steps.CLEANUP].append(f"drop subscription, slot and publication {switch.forward}")
    old_planned = planned_fence_queries(sides, old, old_fence)
    plan[steps.FENCE_OLD] = [text for text in old_planned if text.startswith("postgres:")]
    plan[steps.MONGODB_FENCE_OLD] = [text for text in old_planned if text.startswith("mongodb:")]
    if mongodb:
        plan[steps.MONGODB_DRAIN] += [f"mongodb:{old}: insert into {sides.database}.{FENCE_COLLECTION}",
                                      f"mongodb:{new}: until the copy has applied the token's cluster time",
                                      f"mongodb:{new}: reverse_start = the cluster time then"]
        plan[steps.MONGODB_ROUTE].append(f"haproxy: backend {traffic.haproxy_backend} -> {new}")
        plan[steps.MONGODB_UNFENCE_NEW].append(f"mongodb:{new}: give back what the fence revoked; haproxy: "
                                               f"shutdown sessions server {traffic.haproxy_backend}/{new}")
    if postgres:
        plan[steps.UNFENCE_NEW].append(f"postgres:{new}: give back what the fence revoked")
    plan[steps.FINISH].append(f"state: active = {new}")
    planned = [{"name": step, "planned": texts} for step, texts in plan.items()]
    return planned, [text for texts in plan.values() for text in texts]

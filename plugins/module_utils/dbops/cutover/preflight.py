"""What must hold before a switch pauses anything; each failure is its own refusal with a clear message, raised
before any change.

- the state allows it: the cutover was prepared, the old side is active, no other run is switching;
- the new side is fenced for the application (prepare's fence_passive, or the last switch);
- the forward PostgreSQL flow streams: its subscription on the new side exists, is enabled, has an apply worker,
  and every table is copied ('r'); the fence table is published;
- the forward MongoDB copy runs (fresh heartbeat) and reports no gap;
- approved (check mode needs no approval).
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import FENCE_TABLE, SwitchSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.positions import pg_fence_table_exists
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import OpenSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import (
    FALLEN_BACK,
    PREPARED,
    SWITCHED,
    UNDONE,
    CutoverState,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.health import copy_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import catalogue
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import application_tables
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.subscription_status import (
    read_status,
)

SWITCHABLE_PHASES = (PREPARED, SWITCHED, FALLEN_BACK, UNDONE)
WORKER_START_WAIT_S = 15.0


class SwitchRefused(DbopsError):
    """A precondition of the switch does not hold; nothing was changed."""


def check_approval(approved: bool, check_mode: bool, sides: SwitchSides) -> None:
    if not approved and not check_mode:
        raise SwitchRefused(f"the switch to {sides.new} needs approved=true (an approval in AWX, or "
                            "-e dbops_cutover_approved=true); check mode needs none")


def check_state(state: CutoverState | None, sides: SwitchSides, name: str) -> None:
    if state is None:
        raise SwitchRefused(f"cutover {name!r} has no state on any side: run prepare first (it records the cutover "
                            "as prepared and fences the passive side)")
    if state.phase not in SWITCHABLE_PHASES:
        raise SwitchRefused(f"cutover {name!r} is {state.phase} (active side {state.active}): a switch needs one of "
                            f"{', '.join(SWITCHABLE_PHASES)}")
    if state.active != sides.old:
        raise SwitchRefused(f"cutover {name!r}: the active side is {state.active}, not {sides.old}")
    if not state.fenced(sides.new):
        raise SwitchRefused(f"{sides.new} is not fenced for the application (no fence recorded in the state): run "
                            "cutover_switch action=fence_passive (prepare does) so that it takes no writes before "
                            "the switch")


def check_postgres_flow(sides: OpenSides, switch: SwitchSides) -> dict[str, Any]:
    old, new = sides.pg_conn(switch.old), sides.pg_conn(switch.new)
    name = switch.forward
    status = read_status(old, new, name)
    if not status.exists:
        raise SwitchRefused(f"PostgreSQL: {switch.new} has no subscription {name}: run prepare (or, after a switch, "
                            "the reverse flow is missing)")
    if not status.enabled:
        raise SwitchRefused(f"PostgreSQL: subscription {name} on {switch.new} is disabled, not streaming")
    if status.tables_total == 0 or status.tables_ready != status.tables_total:
        raise SwitchRefused(f"PostgreSQL: subscription {name} on {switch.new} is not streaming every table yet "
                            f"({status.tables_ready} of {status.tables_total} ready: {status.tables}); wait for the "
                            "initial copy (sync)")
    if not _apply_worker_started(new, name):
        raise SwitchRefused(f"PostgreSQL: subscription {name} on {switch.new} has no running apply worker (not "
                            "streaming: see the server log of " + switch.new + ")")
    if not status.slot_exists:
        raise SwitchRefused(f"PostgreSQL: {switch.old} has no replication slot {name}")
    for side, conn in ((switch.old, old), (switch.new, new)):
        if not pg_fence_table_exists(conn):
            raise SwitchRefused(f"PostgreSQL: {side} has no fence table {'.'.join(FENCE_TABLE)} (prepare creates it)")
    published = set(catalogue.publication_tables(old, name))
    if FENCE_TABLE not in published:
        raise SwitchRefused(f"PostgreSQL: publication {name} on {switch.old} does not publish "
                            f"{'.'.join(FENCE_TABLE)}: the fence token would never reach {switch.new}")
    # A table created on the old side after prepare (a new partition, a table of a later set) is in no publication:
    # its rows would stay behind at the switch.
    unpublished = [table for table in application_tables(old) if table not in published]
    if unpublished:
        raise SwitchRefused(f"PostgreSQL: publication {name} on {switch.old} does not publish "
                            + ", ".join(".".join(table) for table in unpublished)
                            + f" (created since prepare?): their rows would not reach {switch.new}; refresh the flow "
                            "(sevenp.dbops.logical_replication state=refreshed; prepare does it) and switch again")
    return {"subscription": name, "enabled": status.enabled, "tables": status.tables,
            "lag_bytes": status.lag_bytes, "confirmed_flush_lsn": status.confirmed_flush_lsn}


def _apply_worker_started(conn: Any, name: str) -> bool:
    """The subscription's apply worker runs, or starts within WORKER_START_WAIT_S: the launcher starts it a moment
    after the subscription is enabled (an undo just did that)."""
    deadline = time.monotonic() + WORKER_START_WAIT_S
    while True:
        running = conn.execute("SELECT count(*) FROM pg_stat_subscription WHERE subname = %s AND pid IS NOT NULL "
                               "AND relid IS NULL", (name,)).fetchone()[0]
        if running:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def check_mongodb_copy(sides: OpenSides, switch: SwitchSides, queries: list[str]) -> dict[str, Any]:
    health = copy_health(sides.mongo_client(switch.new), sides.database, queries=queries)
    if health.gap:
        raise SwitchRefused(f"MongoDB: the copy {switch.old} -> {switch.new} of {sides.database} reports a gap "
                            f"({health.gap}): switching would lose writes; redo prepare for MongoDB")
    if not health.running:
        raise SwitchRefused(f"MongoDB: the copy {switch.old} -> {switch.new} of {sides.database} is not running "
                            f"(status {health.status}, heartbeat {health.heartbeat_age_seconds} s ago): start it "
                            "(mongodb_copy state=started) and sync")
    if health.direction and health.direction != f"{switch.old}_to_{switch.new}":
        raise SwitchRefused(f"MongoDB: the copy on {switch.new} runs {health.direction}, not "
                            f"{switch.old}_to_{switch.new}")
    return health.to_dict()

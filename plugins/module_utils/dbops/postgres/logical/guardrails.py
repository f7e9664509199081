"""The guardrails of the set-up: all read, all run before anything changes (check mode runs them too), and every
refusal is one line naming the object at fault. A run refuses with all the failed checks at once, so one attempt
shows everything to fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import FENCE_TABLE
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import catalogue
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import (
    Table,
    application_tables,
)

WAL_LEVEL = "wal_level"
REPLICA_IDENTITY = "replica_identity"
PARTITIONED_TABLES = "partitioned_tables"
SOURCE_CAPACITY = "source_capacity"
TARGET_CAPACITY = "target_capacity"
LONG_TRANSACTIONS = "long_transactions"
TARGET_EMPTY = "target_empty"
TARGET_SCHEMA = "target_schema"
TARGET_WAL_LEVEL = "target_wal_level"


class GuardrailRefused(DbopsError):
    """A guardrail of the logical replication set-up failed; nothing was changed."""

    def __init__(self, message: str, checks: Sequence[GuardrailCheck] = ()) -> None:
        super().__init__(message)
        self.checks = list(checks)


@dataclass(frozen=True)
class GuardrailCheck:
    name: str
    passed: bool
    detail: str  # what was found (passed) or the refusal (failed)


@dataclass(frozen=True)
class GuardrailScope:
    """Which checks apply: a rerun whose subscription exists creates no slot and copies nothing."""

    creates_subscription: bool
    max_transaction_age: float
    copies_data: bool = True
    copies_schema: bool = True


def _table_text(table: Table) -> str:
    return f"{table[0]}.{table[1]}"


def check_wal_level(source: Any) -> GuardrailCheck:
    level = catalogue.setting(source, "wal_level")
    if level == "logical":
        return GuardrailCheck(WAL_LEVEL, True, "wal_level is logical on the source")
    return GuardrailCheck(WAL_LEVEL, False, f"wal_level is {level!r} on the source, logical replication needs "
                                            "'logical': set wal_level = logical and restart the source")


def check_replica_identity(source: Any, tables: Sequence[Table]) -> GuardrailCheck:
    unusable = [identity for identity in catalogue.table_identities(source, tables) if not identity.usable]
    if not unusable:
        return GuardrailCheck(REPLICA_IDENTITY, True, f"all {len(tables)} published tables have a replica identity")
    names = ", ".join(f"{item.schema}.{item.table}" for item in unusable)
    return GuardrailCheck(REPLICA_IDENTITY, False,
                          f"table(s) without a primary key or usable replica identity: {names} (UPDATE and DELETE "
                          "on them would fail on the source once published): add a primary key, or ALTER TABLE ... "
                          "REPLICA IDENTITY FULL / USING INDEX")


def check_target_wal_level(target: Any) -> GuardrailCheck:
    """The fallback's reverse flow publishes from the target: it needs wal_level logical there too."""
    level = catalogue.setting(target, "wal_level")
    if level == "logical":
        return GuardrailCheck(TARGET_WAL_LEVEL, True, "wal_level is logical on the target (for the reverse flow)")
    return GuardrailCheck(TARGET_WAL_LEVEL, False, f"wal_level is {level!r} on the target; the reverse flow of a "
                                                   "fallback publishes from it: set wal_level = logical and restart "
                                                   "the target")


def check_target_schema(target: Any, tables: Sequence[Table], copies_schema: bool) -> GuardrailCheck:
    """Every published table must exist on the target (CREATE SUBSCRIPTION refuses one it lacks). The schema copy
    loads into a target with none of them; a target with some but not all is refused, never completed."""
    wanted = [table for table in tables if table != FENCE_TABLE]  # the set-up creates the fence table itself
    present = set(application_tables(target))
    missing = [table for table in wanted if table not in present]
    if not missing:
        return GuardrailCheck(TARGET_SCHEMA, True, f"the target has all {len(wanted)} application tables")
    if copies_schema and len(missing) == len(wanted):
        return GuardrailCheck(TARGET_SCHEMA, True, "the target has none of the application tables: the schema is "
                                                   "copied from the source")
    reason = ("copy_schema is false" if not copies_schema
              else "the schema copy only loads into a target with none of the source's tables")
    return GuardrailCheck(TARGET_SCHEMA, False, "the target lacks table(s) "
                          + ", ".join(_table_text(table) for table in missing) + f" ({reason}): create them "
                          "on the target, or start from an empty target database")


def check_partitioned(source: Any) -> GuardrailCheck:
    """Informational: a partitioned table is published through its partitions (ordinary tables, listed one by one
    like any other: the schema copy creates the same partitions on the target). A partition created after prepare
    is in no publication until the flow is refreshed; the switch refuses until then (cutover/preflight.py)."""
    partitioned = catalogue.partitioned_tables(source)
    if not partitioned:
        return GuardrailCheck(PARTITIONED_TABLES, True, "no partitioned tables")
    return GuardrailCheck(PARTITIONED_TABLES, True,
                          "partitioned table(s) " + ", ".join(_table_text(table) for table in partitioned)
                          + ": published through their partitions (a partition added later needs state=refreshed)")


def sync_workers(target: Any, table_count: int) -> int:
    """Table sync workers the initial copy may run at once besides the apply worker."""
    return min(table_count, catalogue.integer_setting(target, "max_sync_workers_per_subscription"))


def _free(conn: Any, setting: str, used: int) -> tuple[int, int]:
    """A setting's maximum and what is left of it."""
    maximum = catalogue.integer_setting(conn, setting)
    return maximum, maximum - used


def _shortfalls(needed: int, limits: dict[str, tuple[int, int]]) -> list[str]:
    return [f"{setting} = {maximum} leaves {free} free" for setting, (maximum, free) in limits.items() if free < needed]


def check_source_capacity(source: Any, needed: int) -> GuardrailCheck:
    limits = {"max_replication_slots": _free(source, "max_replication_slots", catalogue.used_replication_slots(source)),
              "max_wal_senders": _free(source, "max_wal_senders", catalogue.used_wal_senders(source))}
    short = _shortfalls(needed, limits)
    if not short:
        slots, senders = limits["max_replication_slots"][1], limits["max_wal_senders"][1]
        return GuardrailCheck(SOURCE_CAPACITY, True,
                              f"source: {slots} slots and {senders} WAL senders free, {needed} needed")
    return GuardrailCheck(SOURCE_CAPACITY, False, f"the source cannot serve one more subscription ({needed} slots "
                                                  f"and WAL senders with its table sync workers): {'; '.join(short)}")


def check_target_capacity(target: Any, needed: int) -> GuardrailCheck:
    limits = {"max_logical_replication_workers": _free(target, "max_logical_replication_workers",
                                                       catalogue.used_logical_workers(target)),
              "max_worker_processes": _free(target, "max_worker_processes", catalogue.used_background_workers(target))}
    short = _shortfalls(needed, limits)
    if not short:
        return GuardrailCheck(TARGET_CAPACITY, True, f"target: {limits['max_logical_replication_workers'][1]} logical "
                                                     f"replication workers free, {needed} needed")
    return GuardrailCheck(TARGET_CAPACITY, False, f"the target cannot run one more subscription ({needed} workers "
                                                  f"with its table sync workers): {'; '.join(short)}")


def check_long_transactions(source: Any, max_age: float) -> GuardrailCheck:
    old = catalogue.old_transactions(source, max_age)
    if not old:
        return GuardrailCheck(LONG_TRANSACTIONS, True, f"no transaction older than {max_age:g} s on the source")
    listed = ", ".join(f"pid {item.pid} (user {item.user or '?'}, database {item.database or '?'}, "
                       f"{item.age_seconds:g} s)" for item in old)
    return GuardrailCheck(LONG_TRANSACTIONS, False,
                          f"transaction(s) older than max_transaction_age = {max_age:g} s on the source would hold "
                          f"the slot's creation: {listed}; let them finish or end them (pg_terminate_backend)")


def check_target_empty(target: Any) -> GuardrailCheck:
    filled = catalogue.tables_with_rows(target, application_tables(target))
    if not filled:
        return GuardrailCheck(TARGET_EMPTY, True, "the target's application tables hold no rows")
    return GuardrailCheck(TARGET_EMPTY, False,
                          "the target already has rows in " + ", ".join(_table_text(table) for table in filled)
                          + ": the initial copy would double them; empty or recreate the target database")


def run_guardrails(source: Any, target: Any, tables: Sequence[Table], scope: GuardrailScope) -> list[GuardrailCheck]:
    """Every applicable check, in order; nothing is written."""
    checks = [check_wal_level(source), check_target_wal_level(target), check_partitioned(source),
              check_replica_identity(source, tables)]
    if scope.creates_subscription:
        needed = 1 + (sync_workers(target, len(tables)) if scope.copies_data else 0)
        checks += [check_source_capacity(source, needed), check_target_capacity(target, needed),
                   check_long_transactions(source, scope.max_transaction_age),
                   check_target_schema(target, tables, scope.copies_schema)]
        if scope.copies_data:
            checks.append(check_target_empty(target))
    return checks


def refuse_failed(checks: Sequence[GuardrailCheck]) -> None:
    failed = [check for check in checks if not check.passed]
    if failed:
        raise GuardrailRefused("logical replication refused, nothing was changed:\n"
                               + "\n".join(f"- {check.name}: {check.detail}" for check in failed), checks)

"""The logical replication steps of a switch, for the cutover's switch engine: plain functions on autocommit
connections, each idempotent (a rerun after a crash finds the step done and changes nothing), each recording the
(masked) text of every statement in `queries` before it runs.

Order matters in PostgreSQL 15 (no `origin = none`): the new side publishes what its own subscription applies, so
the reverse flow is started only once the forward subscription is disabled (disable_subscription waits until its
apply worker has exited) and has applied everything up to the fence.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg, sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import (
    catalogue,
    schema_gaps,
    statements,
)

DEFAULT_SEQUENCE_HEADROOM = 1000
WORKER_WAIT_S = 10.0  # how long an apply worker or walsender may take to exit after DISABLE / DROP
_POLL_S = 0.01


class SwitchStepFailed(DbopsError):
    """A replication step of the switch failed (the message names the statement and the server's reason)."""


class SubscriptionNotFound(SwitchStepFailed):
    """The subscriber has no subscription of that name."""


def _run(conn: Any, query: Any, queries: list[str], shown: str | None = None) -> Any:
    text = shown if shown is not None else redact(query.as_string(None))
    queries.append(text)
    try:
        return conn.execute(query)
    except psycopg.Error as exc:
        raise SwitchStepFailed(f"{text} failed: {str(exc).strip()}") from None


def _subscription_enabled(conn: Any, name: str) -> bool | None:
    row = conn.execute("""
        SELECT s.subenabled FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
         WHERE s.subname = %s AND d.datname = current_database()""", (name,)).fetchone()
    return None if row is None else bool(row[0])


def _apply_worker_running(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_stat_subscription WHERE subname = %s AND pid IS NOT NULL",
                       (name,)).fetchone()
    return bool(row[0])


def _wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True


def disable_subscription(subscriber_conn: Any, name: str, queries: list[str], *,
                         wait_s: float = WORKER_WAIT_S) -> bool:
    """ALTER SUBSCRIPTION .. DISABLE unless already disabled, then wait until its workers have exited (DISABLE only
    asks them to stop: a worker still applying while the reverse flow starts would send its rows back).
    True when it changed something; SubscriptionNotFound when there is no such subscription."""
    enabled = stop_subscription(subscriber_conn, name, queries, end_workers=False)
    wait_workers_gone(subscriber_conn, name, wait_s)
    return enabled


def stop_subscription(subscriber_conn: Any, name: str, queries: list[str], *, end_workers: bool = True) -> bool:
    """ALTER SUBSCRIPTION .. DISABLE unless already disabled and, with end_workers, its apply worker ended at once
    rather than waited for (an idle worker only notices DISABLE at its next wake-up; the launcher does not start a
    disabled subscription's worker again). Nothing waits here: wait_workers_gone() before anything that needs the
    worker gone. True when it disabled it; SubscriptionNotFound when there is no such subscription."""
    enabled = _subscription_enabled(subscriber_conn, name)
    if enabled is None:
        raise SubscriptionNotFound(f"the subscriber has no subscription {name}")
    if enabled:
        _run(subscriber_conn, statements.alter_subscription_enabled(name, False), queries)
    if end_workers:
        _run(subscriber_conn, sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_subscription WHERE subname = {} "
                                      "AND pid IS NOT NULL").format(sql.Literal(name)), queries)
    return bool(enabled)


def wait_workers_gone(subscriber_conn: Any, name: str, wait_s: float = WORKER_WAIT_S) -> None:
    if not _wait_until(lambda: not _apply_worker_running(subscriber_conn, name), wait_s):
        raise SwitchStepFailed(f"subscription {name} is disabled but its apply worker still runs after {wait_s:g} s")


def enable_subscription(subscriber_conn: Any, name: str, queries: list[str]) -> bool:
    """ALTER SUBSCRIPTION .. ENABLE unless already enabled; True when it changed something."""
    enabled = _subscription_enabled(subscriber_conn, name)
    if enabled is None:
        raise SubscriptionNotFound(f"the subscriber has no subscription {name}")
    if enabled:
        return False
    _run(subscriber_conn, statements.alter_subscription_enabled(name, True), queries)
    return True


def flow_gaps(publisher_conn: Any, subscriber_conn: Any) -> list[str]:
    """What the subscriber lacks (tables, columns) of the tables the publisher would publish; empty when a flow
    publisher -> subscriber can apply every row (start_flow_without_copy publishes only what both have)."""
    return schema_gaps.schema_gaps(publisher_conn, subscriber_conn)


def current_lsn(conn: Any) -> str:
    return str(conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])


def flushed_lsn(publisher_conn: Any, slot: str) -> str | None:
    """The slot's confirmed_flush_lsn (what its subscriber has applied and reported), None when there is no slot."""
    row = publisher_conn.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                                 (slot,)).fetchone()
    return None if row is None else row[0]


def _ensure_publication(publisher_conn: Any, name: str, shared: schema_gaps.SharedPublication,
                        queries: list[str]) -> None:
    """The flow's publication with the explicit table list (the application's tables and the fence table, those
    the subscriber has, with column lists where it has fewer columns); an existing one gains the tables it lacks."""
    if not catalogue.publication_exists(publisher_conn, name):
        _run(publisher_conn, statements.create_publication(name, shared.tables, shared.columns), queries)
        return
    listed = set(catalogue.publication_tables(publisher_conn, name))
    missing = [table for table in shared.tables if table not in listed]
    if missing:
        _run(publisher_conn, statements.add_publication_tables(name, missing, shared.columns), queries)


def flow_limits(publisher_conn: Any, subscriber_conn: Any) -> list[str]:
    """What a flow publisher -> subscriber started now would NOT carry (tables or columns only the publisher has),
    one line each; FlowNotPossible when it could not carry updates at all. Read it before the pause."""
    return schema_gaps.shared_publication(publisher_conn, subscriber_conn).left_out


def prepare_flow(publisher_conn: Any, subscriber_conn: Any, name: str, queries: list[str]) -> None:
    """The first part of a flow without copy, which may run well before it starts: the fence table on both sides
    (it is published, and CREATE SUBSCRIPTION refuses a table the subscriber lacks) and the publication with what
    both sides have (see flow_limits()). Nothing is published until a slot exists."""
    statements.ensure_fence_table(publisher_conn, queries)
    statements.ensure_fence_table(subscriber_conn, queries)
    try:
        shared = schema_gaps.shared_publication(publisher_conn, subscriber_conn)
    except schema_gaps.FlowNotPossible as exc:
        raise SwitchStepFailed(f"flow {name} cannot start: {exc}") from None
    _ensure_publication(publisher_conn, name, shared, queries)


def create_flow_slot(publisher_conn: Any, name: str, queries: list[str]) -> str:
    """The flow's slot (if absent): its position is where the flow starts. Returns the LSN of its creation, or an
    existing slot's confirmed_flush_lsn. The publication must exist already (prepare_flow): the walsender reads it
    through the catalogue as of each change's position, and a publication younger than the slot is "does not
    exist" for the changes before it."""
    if not catalogue.publication_exists(publisher_conn, name):
        raise SwitchStepFailed(f"flow {name} has no publication on its publisher: prepare it before the slot")
    position = flushed_lsn(publisher_conn, name)
    if position is None:
        position = str(_run(publisher_conn, statements.create_logical_slot(name), queries).fetchone()[0])
    return position


def subscribe_flow(subscriber_conn: Any, name: str, publisher_conninfo: str, queries: list[str]) -> bool:
    """The flow's subscription (if absent) on the slot create_flow_slot made, without copy: it receives every
    write the publisher committed after the slot's position, however long after that it is created. True when it
    created it."""
    if _subscription_enabled(subscriber_conn, name) is not None:
        return False
    statement = statements.create_subscription(name, publisher_conninfo, name, copy_data=False,
                                               create_slot=False, slot_name=name, enabled=True)
    _run(subscriber_conn, statement.query, queries, statement.masked)
    return True


def start_flow_without_copy(publisher_conn: Any, subscriber_conn: Any, name: str, publisher_conninfo: str,
                            queries: list[str]) -> str:
    """A flow publisher -> subscriber that starts from now, without initial copy: publication (if absent), slot (if
    absent), subscription (if absent, copy_data = false), in one go. Returns the slot's position: every write
    committed on the publisher after it reaches the subscriber, in the tables and columns both sides have (an
    expand set applied to the publisher alone added the others: flow_limits() lists them). The switch runs the
    three parts at different moments (before, inside and after its pause)."""
    prepare_flow(publisher_conn, subscriber_conn, name, queries)
    position = create_flow_slot(publisher_conn, name, queries)
    subscribe_flow(subscriber_conn, name, publisher_conninfo, queries)
    return position


def _drop_subscription(subscriber_conn: Any, name: str, queries: list[str]) -> bool:
    enabled = _subscription_enabled(subscriber_conn, name)
    if enabled is None:
        return False
    for statement in statements.drop_subscription(name):
        _run(subscriber_conn, statement, queries)
    return True


def _slot_active_pid(publisher_conn: Any, name: str) -> int | None:
    row = publisher_conn.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s",
                                 (name,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _drop_slot(publisher_conn: Any, name: str, queries: list[str]) -> bool:
    if not catalogue.slot_exists(publisher_conn, name):
        return False
    # The subscriber's walsender exits a moment after DROP SUBSCRIPTION; one left behind (a subscriber we could not
    # reach) is ended, else the slot cannot be dropped.
    wait_s = WORKER_WAIT_S / 2
    if not _wait_until(lambda: _slot_active_pid(publisher_conn, name) is None, wait_s):
        pid = _slot_active_pid(publisher_conn, name)
        if pid is not None:
            _run(publisher_conn, sql.SQL("SELECT pg_terminate_backend({})").format(sql.Literal(pid)), queries)
        if not _wait_until(lambda: _slot_active_pid(publisher_conn, name) is None, wait_s):
            raise SwitchStepFailed(f"replication slot {name} is still in use after its walsender was ended")
    _run(publisher_conn, statements.drop_slot(name), queries)
    return True


def drop_flow(publisher_conn: Any | None, subscriber_conn: Any | None, name: str, queries: list[str]) -> bool:
    """Drops the flow's subscription (on the subscriber), slot and publication (on the publisher); either side may be
    None (unreachable): what lives there is left for a later run. True when something was dropped."""
    changed = False
    if subscriber_conn is not None:
        changed = _drop_subscription(subscriber_conn, name, queries)
    if publisher_conn is not None:
        changed = _drop_slot(publisher_conn, name, queries) or changed
        if catalogue.publication_exists(publisher_conn, name):
            _run(publisher_conn, statements.drop_publication(name), queries)
            changed = True
    return changed


_SEQUENCES = """SELECT schemaname, sequencename, last_value, increment_by, min_value, max_value
  FROM pg_sequences ORDER BY 1, 2"""


def advance_sequences(old_conn: Any, new_conn: Any, queries: list[str], headroom: int = DEFAULT_SEQUENCE_HEADROOM
                      ) -> list[dict[str, Any]]:
    """Every sequence of the old side set on the new side past the old side's value by headroom (sequences are
    not replicated); a sequence is never moved back. One entry per sequence of the old side: name, old_value,
    new_value (the new side's value afterwards; None when the new side lacks the sequence), changed."""
    if headroom < 0:
        raise SwitchStepFailed(f"sequence headroom must not be negative, not {headroom}")
    new_side = {(row[0], row[1]): row for row in new_conn.execute(_SEQUENCES).fetchall()}
    advanced: list[dict[str, Any]] = []
    for schema, sequence, old_value, increment, min_value, max_value in old_conn.execute(_SEQUENCES).fetchall():
        entry: dict[str, Any] = {"name": f"{schema}.{sequence}", "old_value": old_value, "new_value": None,
                                 "changed": False}
        advanced.append(entry)
        there = new_side.get((schema, sequence))
        if there is None:
            continue
        entry["new_value"] = there[2]
        if old_value is None:  # never used on the old side: nothing to go past
            continue
        ascending = int(increment) > 0
        wanted = int(old_value) + headroom if ascending else int(old_value) - headroom
        wanted = min(wanted, int(max_value)) if ascending else max(wanted, int(min_value))
        current = there[2]
        if current is not None and (int(current) >= wanted if ascending else int(current) <= wanted):
            continue
        _run(new_conn, sql.SQL("SELECT setval({}, {}, true)").format(
            sql.Literal(sql.Identifier(schema, sequence).as_string(None)), sql.Literal(wanted)), queries)
        entry["new_value"] = wanted
        entry["changed"] = True
    return advanced

"""The positions of a switch: the fence token written on the old side, where the old side stood after it, and
the wait until the new side has applied it.

The token is a row of dbops.cutover_fence (PostgreSQL, a published table: the forward subscription carries it)
and a document of <database>.dbops_cutover_fence (MongoDB, copied by the forward copy). Replication applies in
commit order, so once the new side shows the token it has applied every write the old side committed before the
fence. That is the test used (with the positions reported beside it): an idle server's lag never reads 0, and a
slot's confirmed_flush_lsn is only reported every wal_receiver_status_interval, too slow for a pause of a few
hundred milliseconds.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import FENCE_COLLECTION, FENCE_TABLE
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import wait_applied
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import read_state

POLL_S = 0.002


class FenceNotApplied(DbopsError):
    """The new side did not show the fence token within the time left."""


def timestamp_text(value: Any) -> str | None:
    """A bson Timestamp as "<seconds>:<increment>" (what mongodb_copy's start_at takes)."""
    if value is None:
        return None
    return f"{value.time}:{value.inc}"


def _fence_table() -> Any:
    return sql.Identifier(*FENCE_TABLE)


def pg_fence_table_exists(conn: Any) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (".".join(FENCE_TABLE),)).fetchone()[0])


def write_pg_token(conn: Any, cutover: str, side: str, token: str, queries: list[str], label: str) -> str:
    """Insert the token on the old side (as the collection's own, unfenced login) and return the old side's WAL
    position right after it: fence_lsn."""
    statement = sql.SQL("INSERT INTO {} (cutover, side, token) VALUES ({}, {}, {})").format(
        _fence_table(), sql.Literal(cutover), sql.Literal(side), sql.Literal(token))
    queries.append(f"{label}: SET synchronous_commit = on; {statement.as_string(conn)}")
    # Committed with a WAL flush whatever the server's default: the walsender only sends flushed WAL, and an
    # asynchronous commit could wait for the WAL writer (wal_writer_delay) inside the pause.
    conn.execute("SET synchronous_commit = on")
    conn.execute(statement)
    queries.append(f"{label}: SELECT pg_current_wal_lsn()")
    return str(conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])


def pg_token_seen(conn: Any, token: str) -> bool:
    query = sql.SQL("SELECT 1 FROM {} WHERE token = %s").format(_fence_table())
    return conn.execute(query, (token,)).fetchone() is not None


def wait_pg_token(conn: Any, token: str, timeout: float, queries: list[str], label: str) -> int:
    """Milliseconds until the new side shows the token; FenceNotApplied after timeout seconds."""
    fence_table = ".".join(FENCE_TABLE)
    queries.append(f"{label}: SELECT 1 FROM {fence_table} WHERE token = '{token}' (until found)")  # noqa: S608
    started = time.monotonic()
    while not pg_token_seen(conn, token):
        if time.monotonic() - started > timeout:
            raise FenceNotApplied(f"PostgreSQL {label} has not applied the fence token after {timeout * 1000:.0f} ms")
        time.sleep(POLL_S)
    return round((time.monotonic() - started) * 1000)


def write_mongo_token(client: Any, database: str, cutover: str, side: str, token: str, queries: list[str],
                      label: str) -> Any:
    """Insert the token document on the old side; returns the insert's operationTime: fence_cluster_time (the
    cluster time of the change event the copy applies for it)."""
    queries.append(f"{label}: db.{FENCE_COLLECTION}.insertOne({{token: '{token}', cutover: '{cutover}', "
                   f"side: '{side}'}}) on {database}")
    reply = client[database].command("insert", FENCE_COLLECTION,
                                     documents=[{"_id": token, "cutover": cutover, "side": side}])
    return reply.get("operationTime")


def wait_mongo_token(client: Any, database: str, fence_time: Any, timeout: float, queries: list[str],
                     label: str) -> tuple[int, Any]:
    """Milliseconds until the copy on the new side has applied the fence's cluster time (its state document says
    so; the copy writes it after the data), and the copy's applied cluster time then."""
    if fence_time is None:
        raise FenceNotApplied(f"MongoDB returned no operationTime for the fence token: cannot wait for {label}")
    shown: list[str] = []
    try:
        waited = wait_applied(client, database, fence_time, timeout, poll_interval=POLL_S, queries=shown)
    except DbopsError as exc:
        raise FenceNotApplied(f"the MongoDB copy into {label} has not applied the fence: {exc}") from None
    queries.extend(f"{label}: {text}" for text in shown)
    state = read_state(client, database)
    return waited, state.applied if state is not None else None


def mongo_cluster_time(client: Any) -> Any:
    """The server's cluster time now (a ping's operationTime): where the reverse copy starts."""
    return client.admin.command("ping").get("operationTime")

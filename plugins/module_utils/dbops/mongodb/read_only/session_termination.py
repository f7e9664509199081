"""Ending the operations and connections of the users whose write roles were just revoked.

mongod re-reads a user's roles when they change, so an open connection is refused at its next operation; only an
operation already running keeps its authorization, and killOp ends it. SecantusDB caches the roles a connection
authenticated with (a connection opened before the revoke keeps writing: tested in
tests/integration/mongodb/read_only), and its killOp closes the connection instead, so the driver reconnects and
authenticates again under the new roles. The same currentOp + killOp therefore covers both servers.

A write made inside a transaction before the revoke would still commit after it (commitTransaction needs no write
privilege, on either server), so the users' sessions are killed first with killAllSessionsByPattern, which aborts
their open transactions. mongod honours its users filter; SecantusDB ignores it and aborts every open transaction,
the exempt users' included (they see a transient error and retry): a freeze that lets one application write commit
would be worse, and the result says so.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.command_log import run_change
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import split_user_id, user_id

GONE_TIMEOUT_S = 5.0
SESSIONS_NOTE = ("the application users' sessions were killed (killAllSessionsByPattern), aborting their open "
                 "transactions; a server that ignores the users filter (SecantusDB) aborts every open transaction, "
                 "the exempt users' too")


def operations_of(client: Any, users: set[str]) -> list[Any]:
    """opids of every operation (idle connections included, where listed) run by one of users."""
    reply = client.admin.command({"currentOp": 1, "$all": True})
    opids = []
    for entry in reply.get("inprog", []):
        names = {user_id(str(u.get("user")), str(u.get("db"))) for u in entry.get("effectiveUsers", [])}
        if names & users and entry.get("opid") is not None:
            opids.append(entry["opid"])
    return opids


def terminate(client: Any, users: set[str], queries: list[str], notes: list[str]) -> None:
    """killOp every operation of users, then wait until none of them is listed any more, so no write already under
    way completes after enable() returns."""
    if not users:
        return
    _kill_sessions(client, users, queries, notes)
    try:
        opids = operations_of(client, users)
    except pymongo_errors.OperationFailure as exc:
        notes.append(f"currentOp refused ({exc.code}): operations already running were not ended")
        return
    for opid in opids:
        try:
            run_change(client, "admin", {"killOp": 1, "op": opid}, queries)
        except pymongo_errors.OperationFailure as exc:
            notes.append(f"killOp {opid} refused ({exc.code})")
    deadline = time.monotonic() + GONE_TIMEOUT_S
    remaining = set(opids)
    while remaining and time.monotonic() < deadline:
        remaining &= set(operations_of(client, users))
        if remaining:
            time.sleep(0.02)
    if remaining:
        notes.append(f"operations {sorted(remaining)} were still listed {GONE_TIMEOUT_S:.0f} s after killOp")


def _kill_sessions(client: Any, users: set[str], queries: list[str], notes: list[str]) -> None:
    pattern = [{"users": [{"user": name, "db": db} for name, db in sorted(split_user_id(u) for u in users)]}]
    try:
        run_change(client, "admin", {"killAllSessionsByPattern": pattern}, queries)
    except pymongo_errors.OperationFailure as exc:
        notes.append(f"killAllSessionsByPattern refused ({exc.code}): open transactions were not aborted")
        return
    notes.append(SESSIONS_NOTE)

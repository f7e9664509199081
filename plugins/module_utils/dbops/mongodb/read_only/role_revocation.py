"""Read-only mode without setUserWriteBlockMode (SecantusDB, MongoDB before 6.0): each non-exempt application user
loses its write roles on the database and gets their read equivalents; disable() gives back exactly what was taken.

Only roles on the database itself are touched. A user who can write through a cluster-wide role (root,
readWriteAnyDatabase, ...) is an administrator, not an application user of this database: it is named in a note, not
changed. Idempotent by construction: once enabled, the users hold no write role, so the next plan is empty.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import (
    ROLE_REVOCATION,
    MongoReadOnlyChange,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.command_log import run_change
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import (
    MongoUser,
    current_user,
    is_exempt,
    split_user_id,
    users_with_roles_on,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.write_roles import judge

REVALIDATION_NOTE = (
    "already-open connections: mongod re-reads a user's roles on every operation after they change, so they are "
    "refused at their next write; SecantusDB keeps the roles a connection authenticated with, so the users' "
    "connections were closed (killOp) and reconnect under the read roles")
# Roles on admin that write to (or can regain writes on) every database.
_CLUSTER_WRITERS = {"root", "readWriteAnyDatabase", "dbAdminAnyDatabase", "userAdminAnyDatabase", "restore", "__system"}


def plan(client: Any, database: str, exempt: list[str]) -> MongoReadOnlyChange:
    change = MongoReadOnlyChange(database=database, mode=ROLE_REVOCATION)
    verdicts: dict[tuple[str, str], Any] = {}
    for user in users_with_roles_on(client, database):
        if is_exempt(user, exempt):
            continue
        change.application_users.append(user.id)
        _plan_user(client, database, user, change, verdicts)
        _note_cluster_writer(user, database, change)
    if not change.empty:
        change.notes.append(REVALIDATION_NOTE)
    return change


def _plan_user(client: Any, database: str, user: MongoUser, change: MongoReadOnlyChange,
               verdicts: dict[tuple[str, str], Any]) -> None:
    held = user.roles_on(database)
    revoke, grant = [], []
    for role in held:
        key = (role["role"], role["db"])
        if key not in verdicts:
            verdicts[key] = judge(client, role)
        verdict = verdicts[key]
        if verdict.note and verdict.note not in change.notes:
            change.notes.append(verdict.note)
        if not verdict.writes:
            continue
        revoke.append(role)
        replacement = {"role": verdict.replacement, "db": database} if verdict.replacement else None
        # A read role the user already holds is not recorded as granted, so disable() never takes it away.
        if replacement and replacement not in held and replacement not in grant:
            grant.append(replacement)
    if revoke:
        change.revoked[user.id] = revoke
    if grant:
        change.granted[user.id] = grant


def _note_cluster_writer(user: MongoUser, database: str, change: MongoReadOnlyChange) -> None:
    wide = [f"{role}@{db}" for role, db in user.roles if db == "admin" != database and role in _CLUSTER_WRITERS]
    if wide:
        change.notes.append(f"{user.id} can still write through {', '.join(wide)} (cluster-wide roles are not "
                            "changed by read-only mode)")


def enable(client: Any, change: MongoReadOnlyChange, queries: list[str]) -> None:
    for identity, roles in change.granted.items():
        _apply(client, identity, "grantRolesToUser", roles, queries)
    for identity, roles in change.revoked.items():
        _apply(client, identity, "revokeRolesFromUser", roles, queries)


def disable(client: Any, previous: MongoReadOnlyChange, queries: list[str]) -> None:
    """Give back what was revoked first (no moment without any role), then take back only the roles we granted; a
    role someone else granted meanwhile is not in the record and stays."""
    for identity, roles in previous.revoked.items():
        user = current_user(client, identity)
        if user is None:
            continue  # dropped meanwhile: nothing to give back to
        missing = [r for r in roles if (r["role"], r["db"]) not in user.roles]
        if missing:
            _apply(client, identity, "grantRolesToUser", missing, queries)
    for identity, roles in previous.granted.items():
        user = current_user(client, identity)
        if user is None:
            continue
        present = [r for r in roles if (r["role"], r["db"]) in user.roles]
        if present:
            _apply(client, identity, "revokeRolesFromUser", present, queries)


def _apply(client: Any, identity: str, command: str, roles: list[dict[str, str]], queries: list[str]) -> None:
    name, db = split_user_id(identity)
    try:
        run_change(client, db, {command: name, "roles": [dict(r) for r in roles]}, queries)
    except pymongo_errors.OperationFailure as exc:
        raise DbopsError(f"MongoDB refused {command} for {identity}: {describe_error(exc)}") from None

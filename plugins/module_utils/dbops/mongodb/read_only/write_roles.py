"""Which of a user's roles on the database can write, and the read role that replaces it.

Built-in roles: readWrite and dbOwner write and read, so both become read. dbOwner is not reduced to read + dbAdmin:
dbAdmin can drop collections and the database, which is exactly what a 3 a.m. freeze must stop; userAdmin (alone or
inside dbOwner) could grant the write role back, so it is revoked too, with no replacement (neither reads data).
Custom roles are judged by their privileges (inherited ones included): any action outside READ_ACTIONS makes the role
a writer, which is revoked; it gets no replacement, because a database-wide read would widen what it could read
(a note says its reads stop). Unknown actions count as writes: the safe side for a freeze.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors

READ = "read"
_BUILTIN_WRITERS = {"readWrite": READ, "dbOwner": READ, "dbAdmin": None, "userAdmin": None}
_BUILTIN_READERS = {"read", "enableSharding"}
READ_ACTIONS = frozenset({
    "find", "listCollections", "listIndexes", "listSearchIndexes", "collStats", "dbStats", "dbHash", "indexStats",
    "killCursors", "changeStream", "planCacheRead", "viewRole", "viewUser", "listDatabases", "validate",
    "storageDetails", "connPoolStats", "serverStatus",
})


@dataclass(frozen=True)
class RoleVerdict:
    role: dict[str, str]
    writes: bool
    replacement: str | None  # a built-in role name on the same database, or None
    note: str | None = None


def writing_actions(role_info: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for key in ("privileges", "inheritedPrivileges"):
        for privilege in role_info.get(key) or []:
            actions.update(str(a) for a in privilege.get("actions", []))
    return actions - READ_ACTIONS


def custom_role_info(client: Any, role: dict[str, str]) -> dict[str, Any] | None:
    try:
        reply = client[role["db"]].command({"rolesInfo": [dict(role)], "showPrivileges": True})
    except pymongo_errors.OperationFailure:
        return None
    roles = reply.get("roles", [])
    return roles[0] if roles else None


def judge(client: Any, role: dict[str, str]) -> RoleVerdict:
    name = role["role"]
    if name in _BUILTIN_WRITERS:
        return RoleVerdict(role, True, _BUILTIN_WRITERS[name])
    if name in _BUILTIN_READERS:
        return RoleVerdict(role, False, None)
    info = custom_role_info(client, role)
    if info is None:
        # Neither built-in nor readable: we cannot prove it only reads.
        return RoleVerdict(role, True, None, f"role {name}@{role['db']} could not be inspected: revoked as a writer")
    writes = writing_actions(info)
    if not writes:
        return RoleVerdict(role, False, None)
    return RoleVerdict(role, True, None, f"custom role {name}@{role['db']} can {', '.join(sorted(writes))}: revoked "
                                         "without a read replacement (its reads stop until disable)")

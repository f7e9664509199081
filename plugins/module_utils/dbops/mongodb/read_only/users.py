"""Who read-only mode applies to: the users holding roles on the database, minus the exempt ones.

A user is named "name@database" (the database it is defined in). Users may be defined in the database itself or in
admin (or elsewhere), so they are collected from usersInfo on the database, on admin, and forAllDBs where the server
answers it (SecantusDB answers forAllDBs with an empty list, so it is never the only source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors


@dataclass(frozen=True)
class MongoUser:
    name: str
    db: str
    roles: tuple[tuple[str, str], ...] = field(default=())  # (role, db)

    @property
    def id(self) -> str:
        return f"{self.name}@{self.db}"

    def roles_on(self, database: str) -> list[dict[str, str]]:
        return [{"role": role, "db": db} for role, db in self.roles if db == database]


def user_id(name: str, db: str) -> str:
    return f"{name}@{db}"


def split_user_id(identity: str) -> tuple[str, str]:
    name, _at, db = identity.rpartition("@")
    return name, db


def parse_users(reply: dict[str, Any]) -> list[MongoUser]:
    return [MongoUser(name=str(u["user"]), db=str(u["db"]),
                      roles=tuple((str(r["role"]), str(r["db"])) for r in u.get("roles", [])))
            for u in reply.get("users", [])]


def _users_info(client: Any, database: str, argument: Any) -> list[MongoUser]:
    return parse_users(client[database].command({"usersInfo": argument}))


def _all_users(client: Any) -> list[MongoUser]:
    # forAllDBs is a bonus (users defined in other databases): a server without it must not stop the freeze.
    try:
        return _users_info(client, "admin", {"forAllDBs": True})
    except pymongo_errors.OperationFailure:
        return []


def users_with_roles_on(client: Any, database: str) -> list[MongoUser]:
    """Every user holding at least one role on database, each once, sorted by id. A refused usersInfo on the
    database or on admin raises: a plan that silently saw no users would report a freeze that froze nothing."""
    found: dict[str, MongoUser] = {}
    for user in [*_all_users(client), *_users_info(client, "admin", 1), *_users_info(client, database, 1)]:
        if user.roles_on(database):
            found[user.id] = user
    return [found[key] for key in sorted(found)]


def current_user(client: Any, identity: str) -> MongoUser | None:
    name, db = split_user_id(identity)
    users = _users_info(client, db, name)
    return users[0] if users else None


def connected_users(client: Any) -> list[str]:
    """The users this client is authenticated as: always exempt, so the collection can undo and repair."""
    reply = client.admin.command({"connectionStatus": 1})
    return [user_id(str(u["user"]), str(u["db"])) for u in reply.get("authInfo", {}).get("authenticatedUsers", [])]


def is_exempt(user: MongoUser, exempt: list[str]) -> bool:
    """exempt names a user as "name@db" or just "name" (then in any database; such a name only matters for users
    holding roles on the database, since it cannot be resolved to one user otherwise)."""
    return any(entry == user.id or ("@" not in entry and entry == user.name) for entry in exempt)

"""Proof that read-only mode holds: as each application user, a write must be refused and a read must work.

The collection does not know the application users' passwords, so each probe is a user created for the purpose with
the same roles the application user holds now, a random password, and a name starting with PROBE_PREFIX; it is
dropped after its probe whatever happens. A write that gets through is deleted again by the collection's own user.
"""

from __future__ import annotations

import secrets
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connect,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import MongoReadOnlyChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import (
    MongoUser,
    current_user,
    users_with_roles_on,
)

PROBE_PREFIX = "dbops_read_only_probe_"
PROBE_COLLECTION = "dbops_read_only_probe"
INSERTING_ROLES = frozenset({"readWrite", "dbOwner"})
INSERTING_ANY_DATABASE = frozenset({"readWriteAnyDatabase", "root"})


def users_to_probe(client: Any, database: str, change: MongoReadOnlyChange | None) -> list[MongoUser]:
    """The application users the plan saw; without a plan (after disable), every user holding roles on database
    except the ones this client is."""
    if change is not None:
        found = (current_user(client, identity) for identity in change.application_users)
        return [user for user in found if user is not None]
    return [user for user in users_with_roles_on(client, database) if not user.name.startswith(PROBE_PREFIX)]


def probe_user(client: Any, uri: str, database: str, user: MongoUser, *, lifted: bool = False) -> dict[str, Any]:
    """lifted: after disabling, the write must be accepted again (and is deleted at once)."""
    name = PROBE_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    roles = [{"role": role, "db": db} for role, db in user.roles]
    # Probe users are not part of the change: they stay out of `queries` (and their password out of every text).
    client[database].command({"createUser": name, "pwd": password, "roles": roles})
    had_collection = PROBE_COLLECTION in client[database].list_collection_names()
    try:
        write_refused, read_ok = _try_as(client, uri, database, name, password)
    finally:
        client[database].command({"dropUser": name})
        if not had_collection and PROBE_COLLECTION in client[database].list_collection_names():
            client[database].drop_collection(PROBE_COLLECTION)
    # kind/outcome/ok as the PostgreSQL probes report them (the module's documented shape), plus the details.
    read = ", read ok" if read_ok else ", read FAILED"
    if lifted:
        outcome = ("write REFUSED" if write_refused else "write accepted") + read
    else:
        outcome = ("write refused" if write_refused else "write ACCEPTED") + read
    record = {"database": "mongodb", "user": user.id, "role": user.id, "kind": "write and read", "outcome": outcome,
              "ok": (write_refused != lifted) and read_ok, "write_refused": write_refused, "read_ok": read_ok,
              "via": f"probe user with the roles of {user.id}"}
    if lifted:
        record["expect"] = "accepted"
    return record


def _try_as(admin: Any, uri: str, database: str, name: str, password: str) -> tuple[bool, bool]:
    probe = connect(uri, username=name, password=password, authSource=database, retryWrites=False)
    try:
        try:
            inserted = probe[database][PROBE_COLLECTION].insert_one({"probe": name})
            admin[database][PROBE_COLLECTION].delete_one({"_id": inserted.inserted_id})
            write_refused = False
        except pymongo_errors.OperationFailure:
            write_refused = True
        try:
            probe[database].list_collection_names()
            probe[database][PROBE_COLLECTION].find_one()
            read_ok = True
        except pymongo_errors.OperationFailure:
            read_ok = False
    finally:
        probe.close()
    return write_refused, read_ok


def verify(client: Any, uri: str, database: str, change: MongoReadOnlyChange | None,
           probes: list[dict[str, Any]], *, lifted: bool = False) -> None:
    for user in users_to_probe(client, database, change):
        if lifted and not can_insert(user, database):
            probes.append({"database": "mongodb", "user": user.id, "role": user.id, "kind": "write and read",
                           "outcome": "skipped: no role that inserts into any collection", "ok": True,
                           "expect": "accepted"})
            continue
        probes.append(probe_user(client, uri, database, user, lifted=lifted))


def can_insert(user: MongoUser, database: str) -> bool:
    """Whether the user's roles let it insert into any collection of database: only then must the probe's write
    be accepted once the mode is lifted (a custom role may write to one collection only)."""
    return any((db == database and role in INSERTING_ROLES) or (db == "admin" and role in INSERTING_ANY_DATABASE)
               for role, db in user.roles)

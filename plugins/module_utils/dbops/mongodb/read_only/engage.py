"""Emergency read-only mode on one MongoDB database: the entry points the read_only job calls.

plan_enable() only reads; enable() applies a plan; disable() restores a recorded plan exactly; verify() probes.
Which mechanism is used is decided once, in plan_enable(), from what the server offers (write_block.available), and
recorded in the change, so enable() and disable() follow the record and never re-decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connected,
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import (
    role_revocation,
    write_block,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import (
    WRITE_BLOCK,
    MongoReadOnlyChange,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.probes import verify as probe
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.session_termination import (
    terminate,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import (
    connected_users,
    is_exempt,
    users_with_roles_on,
)

__all__ = ["MongoReadOnlyChange", "disable", "enable", "plan_enable", "verify"]


def exempt_list(client: Any, exempt_users: list[str]) -> list[str]:
    """The exempt users as given plus the users this client is connected as (always exempt)."""
    return [*connected_users(client), *exempt_users]


@contextmanager
def _engine_errors(doing: str) -> Iterator[None]:
    """A driver error in any entry point becomes the engine's error, naming the step (redacted like every one)."""
    try:
        yield
    except pymongo_errors.PyMongoError as exc:
        raise DbopsError(f"MongoDB failed while {doing}: {describe_error(exc)}") from None


def plan_enable(client: Any, database: str, exempt_users: list[str]) -> MongoReadOnlyChange:
    with _engine_errors(f"planning read-only mode for {database}"):
        return _plan(client, database, exempt_users)


def _plan(client: Any, database: str, exempt_users: list[str]) -> MongoReadOnlyChange:
    exempt = exempt_list(client, exempt_users)
    if write_block.available(client):
        holders = users_with_roles_on(client, database)
        application = [u.id for u in holders if not is_exempt(u, exempt)]
        exempt_ids = sorted({*connected_users(client), *(u.id for u in holders if is_exempt(u, exempt)),
                             *(e for e in exempt_users if "@" in e)})
        return write_block.plan(client, database, exempt_ids, application)
    return role_revocation.plan(client, database, exempt)


def enable(client: Any, database: str, change: MongoReadOnlyChange, queries: list[str]) -> None:
    """Apply the plan, then end what the users it froze still have running: every path ends in terminate(), so no
    write already under way (or sitting in an open transaction) completes after enable() returns."""
    _check_database(database, change)
    with _engine_errors(f"enabling read-only mode on {database}"):
        _mechanism(change).enable(client, change, queries)
        terminate(client, users_to_end(change), queries, change.notes)


def _mechanism(change: MongoReadOnlyChange) -> Any:
    """The module that engages and undoes the mode the plan chose (write_block or role_revocation)."""
    return write_block if change.mode == WRITE_BLOCK else role_revocation


def users_to_end(change: MongoReadOnlyChange) -> set[str]:
    if change.mode == WRITE_BLOCK:
        return set(change.application_users) if change.write_block_set else set()
    return set(change.revoked)


def disable(client: Any, database: str, previous: dict[str, Any], queries: list[str]) -> None:
    change = MongoReadOnlyChange.from_dict(previous)
    _check_database(database, change)
    with _engine_errors(f"disabling read-only mode on {database}"):
        _mechanism(change).disable(client, change, queries)


def verify(uri: str, database: str, change: MongoReadOnlyChange | None, probes: list[dict[str, Any]], *,
           lifted: bool = False) -> None:
    """Probes as each application user: writes refused while engaged, accepted again once lifted."""
    with connected(uri, "probing read-only mode") as client:
        probe(client, uri, database, change, probes, lifted=lifted)


def _check_database(database: str, change: MongoReadOnlyChange) -> None:
    if change.database != database:
        raise ValueError(f"the read-only change recorded for {change.database!r} cannot be applied to {database!r}")

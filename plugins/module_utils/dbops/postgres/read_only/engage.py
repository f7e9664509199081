"""Apply and undo a planned PostgreSQL read-only change; the caller has recorded it in the state file first.

Order of enable: the role settings and the revokes in one transaction (all or nothing), ALTER SYSTEM (it cannot
run inside a transaction) and a reload, then the termination of the writers. Once a revoke commits, every other
session sees the new ACL at its next lock on the table; the backends that could still commit a write begun
before (they hold a transaction id, sit idle in a transaction or already hold a write lock) are terminated, and
pg_terminate_backend waits for each to be gone, so nothing they started commits after the mode is reported.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import statements
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import PgReadOnlyChange

TERMINATE_WAIT_MS = 5000
RELOAD_WAIT_S = 5.0
# A backend of a fenced role that holds one of these on a relation may write without taking a new lock.
WRITE_LOCK_MODES = ["RowExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]


def exempt_session(conn: Any) -> None:
    """This session writes whatever the server default is (it is always exempt)."""
    conn.execute("SET default_transaction_read_only = off")


def enable(conn: Any, change: PgReadOnlyChange, queries: list[str]) -> None:
    exempt_session(conn)
    with conn.transaction():
        for setting in change.role_settings:
            _run(conn, statements.set_role_setting(setting), queries)
        for grant in statements.revoke_order(change.revoked):
            conn.execute(statements.as_role(grant.grantor))
            _run(conn, statements.revoke(grant), queries, f" (as {grant.grantor})")
            conn.execute("RESET ROLE")
    if change.system is not None:
        _run(conn, statements.set_system(), queries)
    reload_configuration(conn, queries)


def reload_configuration(conn: Any, queries: list[str]) -> None:
    """pg_reload_conf() only signals the postmaster: wait until this backend has reloaded too. The postmaster
    reloads before it signals its children, so from then on every new session starts with the new default, and
    every existing one has it at its next command."""
    loaded_before = conn.execute("SELECT pg_conf_load_time()").fetchone()[0]
    _run(conn, "SELECT pg_reload_conf()", queries)
    deadline = time.monotonic() + RELOAD_WAIT_S
    while conn.execute("SELECT pg_conf_load_time()").fetchone()[0] <= loaded_before:
        if time.monotonic() > deadline:
            raise DbopsError(f"PostgreSQL did not reload its configuration within {RELOAD_WAIT_S:.0f} s")
        time.sleep(0.01)


def terminate_writers(conn: Any, roles: list[str], queries: list[str]) -> list[dict[str, Any]]:
    """Terminate the backends of roles that could still commit a write begun before the fence."""
    if not roles:
        return []
    query = (
        "SELECT a.pid, a.usename, pg_terminate_backend(a.pid, %s) FROM pg_stat_activity a "
        "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.datname = current_database() "
        "AND a.usename = ANY(%s) AND (a.backend_xid IS NOT NULL OR a.state LIKE 'idle in transaction%%' "
        "OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'relation' "
        "AND l.mode = ANY(%s)))")
    rows = conn.execute(query, (TERMINATE_WAIT_MS, roles, WRITE_LOCK_MODES)).fetchall()
    queries.append("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = ANY(fenced roles) "
                   "AND (backend_xid IS NOT NULL OR idle in transaction OR holding a write lock)")
    return [{"pid": pid, "role": role, "terminated": bool(done)} for pid, role, done in rows]


def disable(conn: Any, previous: dict[str, Any], queries: list[str]) -> list[str]:
    """Put back exactly what previous records; returns warnings (grants on objects dropped meanwhile)."""
    change = PgReadOnlyChange.from_dict(previous)
    warnings: list[str] = []
    exempt_session(conn)
    with conn.transaction():
        for grant in reversed(statements.revoke_order(change.revoked)):
            if not _exists(conn, grant.kind, grant.schema, grant.name):
                gone = statements.as_text(conn, statements.regrant(grant))
                warnings.append(f"not re-granted, the object is gone: {gone}")
                continue
            conn.execute(statements.as_role(grant.grantor))
            _run(conn, statements.regrant(grant), queries, f" (as {grant.grantor})")
            conn.execute("RESET ROLE")
        for setting in change.role_settings:
            _run(conn, statements.restore_role_setting(setting), queries)
    if change.system is not None:
        _run(conn, statements.restore_system(change.system.previous), queries)
    reload_configuration(conn, queries)
    return warnings


def _exists(conn: Any, kind: str, schema: str, name: str | None) -> bool:
    if kind == "schema":
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
    return conn.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone() is not None


def _run(conn: Any, statement: Any, queries: list[str], note: str = "") -> None:
    conn.execute(statement)
    queries.append(statements.as_text(conn, statement) + note)


def planned_queries(conn: Any, change: PgReadOnlyChange, terminate: bool) -> list[str]:
    """What enable would run, for check mode."""
    planned = [statements.as_text(conn, statements.set_role_setting(item)) for item in change.role_settings]
    planned += [statements.as_text(conn, statements.revoke(grant)) + f" (as {grant.grantor})"
                for grant in statements.revoke_order(change.revoked)]
    if change.system is not None:
        planned.append(statements.as_text(conn, statements.set_system()))
    planned.append("SELECT pg_reload_conf()")
    if terminate and change.fenced_roles:
        planned.append("terminate the backends of " + ", ".join(change.fenced_roles)
                       + " that hold a transaction id, sit idle in a transaction or hold a write lock")
    return planned


def planned_undo(conn: Any, previous: dict[str, Any]) -> list[str]:
    """What disable would run, for check mode."""
    change = PgReadOnlyChange.from_dict(previous)
    planned = [statements.as_text(conn, statements.regrant(grant)) + f" (as {grant.grantor})"
               for grant in reversed(statements.revoke_order(change.revoked))]
    planned += [statements.as_text(conn, statements.restore_role_setting(item)) for item in change.role_settings]
    if change.system is not None:
        planned.append(statements.as_text(conn, statements.restore_system(change.system.previous)))
    return [*planned, "SELECT pg_reload_conf()"]

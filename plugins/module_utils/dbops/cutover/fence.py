"""The fence: the application can no longer write to one side, while the collection's own writers (the
subscription's apply worker, the MongoDB copy, the state writes) go on, because they log in as superusers/admins.

It is the emergency read-only engines' per-role mechanism, never their system-wide setting (ALTER SYSTEM
default_transaction_read_only would stop the apply worker writing the fence token and the reverse flow):
- PostgreSQL: the application roles' write grants are revoked and their own default_transaction_read_only set
  (postgres/read_only planner + statements), then their sessions that could still commit a write are terminated.
  No configuration reload is needed (a role setting is read when a session starts), which keeps it short: it
  runs inside the pause.
- MongoDB: the application users lose their write roles on the database and get the read equivalents
  (mongodb/read_only role_revocation), then their connections are ended.
What was changed is returned as a record ({"postgres": PgReadOnlyChange dict, "mongodb": MongoReadOnlyChange
dict}) that the caller stores in the cutover state BEFORE applying it, so that any later run can lift it exactly.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import OpenSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import engage as mongo_engage
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import role_revocation
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import MongoReadOnlyChange
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import (
    connected_users,
    users_with_roles_on,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import engage as pg_engage
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import planner as pg_planner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import statements
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import PgReadOnlyChange

FenceRecord = dict[str, Any]  # {"postgres": dict | None, "mongodb": dict | None}


class FenceError(DbopsError):
    """A side could not be fenced or unfenced."""


def _pg_exempt(conn: Any, app_roles: list[str]) -> list[str]:
    """Every login role that is not an application role (empty app_roles: every non-superuser is fenced)."""
    if not app_roles:
        return []
    rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolcanlogin AND NOT (rolname = ANY(%s))",
                        (list(app_roles),)).fetchall()
    return [row[0] for row in rows]


def plan_postgres(conn: Any, app_roles: list[str], recorded: dict[str, Any] | None) -> PgReadOnlyChange:
    """What fencing the side's PostgreSQL changes now, merged into what an earlier (crashed) run recorded."""
    plan = pg_planner.plan_enable(conn, _pg_exempt(conn, app_roles), "hard", unknown_exempt_ok=True)
    plan.system = None  # never the system-wide setting: the collection's own writers must keep writing
    plan.role_settings = [setting for setting in plan.role_settings if setting.target == "on"]
    if app_roles:
        missing = sorted(set(app_roles) - set(plan.fenced_roles))
        if missing:
            raise FenceError(f"app_roles names roles that are not fenceable login roles of this database (absent, "
                             f"superusers or unable to connect): {', '.join(missing)}")
    if recorded:
        merged = plan.merged_into(PgReadOnlyChange.from_dict(recorded))
        merged.system = None
        return merged
    return plan


def _app_user_ids(app_users: list[str], database: str) -> set[str]:
    return {user if "@" in user else f"{user}@{database}" for user in app_users}


def plan_mongodb(client: Any, database: str, app_users: list[str], recorded: dict[str, Any] | None
                 ) -> MongoReadOnlyChange:
    holders = users_with_roles_on(client, database)
    wanted = _app_user_ids(app_users, database)
    if wanted:
        unknown = sorted(wanted - {user.id for user in holders})
        if unknown:
            raise FenceError(f"app_users names users that hold no role on {database}: {', '.join(unknown)}")
    exempt = [user.id for user in holders if wanted and user.id not in wanted] + connected_users(client)
    plan = role_revocation.plan(client, database, exempt)
    if not recorded:
        return plan
    # The recorded roles are the older truth (after a crash the plan no longer shows what was already revoked).
    merged = MongoReadOnlyChange.from_dict(recorded)
    for identity, roles in plan.revoked.items():
        merged.revoked.setdefault(identity, roles)
    for identity, roles in plan.granted.items():
        merged.granted.setdefault(identity, roles)
    merged.application_users = sorted(set(merged.application_users) | set(plan.application_users))
    return merged


def plan_fence(sides: OpenSides, side: str, app_roles: list[str], app_users: list[str],
               recorded: FenceRecord | None) -> FenceRecord:
    recorded = recorded or {}
    record: FenceRecord = {"postgres": None, "mongodb": None}
    if side in sides.pg:
        record["postgres"] = plan_postgres(sides.pg[side], app_roles, recorded.get("postgres")).to_dict()
    if side in sides.mongo:
        record["mongodb"] = plan_mongodb(sides.mongo[side], sides.database, app_users,
                                         recorded.get("mongodb")).to_dict()
    return record


def _run_batch(conn: Any, batch: list[tuple[Any, str]], queries: list[str], prefix: str) -> None:
    """The statements (each with a note for the record) sent as one query: the fence runs inside the pause, where
    each round trip counts. Each text is recorded before anything is sent."""
    if not batch:
        return
    queries.extend(prefix + statements.as_text(conn, statement) + note for statement, note in batch)
    conn.execute(sql.SQL("; ").join(statement for statement, _note in batch))


def _as_grantor(grant: Any, statement: Any) -> list[tuple[Any, str]]:
    return [(statements.as_role(grant.grantor), ""), (statement, f" (as {grant.grantor})"),
            (sql.SQL("RESET ROLE"), "")]


def fence_postgres(conn: Any, change: PgReadOnlyChange, queries: list[str], label: str) -> None:
    """The role settings and the revokes in one transaction (one query), then the termination of the sessions that
    could still commit a write begun before."""
    prefix = f"{label}: "
    pg_engage.exempt_session(conn)
    batch: list[tuple[Any, str]] = [(statements.set_role_setting(setting), "") for setting in change.role_settings]
    for grant in statements.revoke_order(change.revoked):
        batch += _as_grantor(grant, statements.revoke(grant))
    with conn.transaction():
        _run_batch(conn, batch, queries, prefix)
    terminated: list[str] = []
    pg_engage.terminate_writers(conn, change.fenced_roles, terminated)
    queries.extend(prefix + text for text in terminated)


def unfence_postgres(conn: Any, change: PgReadOnlyChange, queries: list[str], label: str) -> None:
    """Give back exactly what the record says (re-grants first, then the role settings), in one transaction."""
    prefix = f"{label}: "
    pg_engage.exempt_session(conn)
    grants = list(reversed(statements.revoke_order(change.revoked)))
    with conn.transaction():
        present = _present(conn, grants)
        batch: list[tuple[Any, str]] = []
        for grant in grants:
            if (grant.kind == "schema", grant.schema, None if grant.kind == "schema" else grant.name) in present:
                batch += _as_grantor(grant, statements.regrant(grant))
            # else: dropped meanwhile, nothing to give back
        batch += [(statements.restore_role_setting(setting), "") for setting in change.role_settings]
        _run_batch(conn, batch, queries, prefix)


def _present(conn: Any, grants: list[Any]) -> set[tuple[bool, str, str | None]]:
    """Which of the grants' schemas and relations still exist, in two catalog reads."""
    schemas = sorted({grant.schema for grant in grants if grant.kind == "schema"})
    relations = sorted({f"{grant.schema}.{grant.name}" for grant in grants if grant.kind != "schema"})
    found: set[tuple[bool, str, str | None]] = set()
    if schemas:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (schemas,)).fetchall()
        found |= {(True, row[0], None) for row in rows}
    if relations:
        rows = conn.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname || '.' || c.relname = ANY(%s)", (relations,)).fetchall()
        found |= {(False, row[0], row[1]) for row in rows}
    return found


def apply_fence(sides: OpenSides, side: str, record: FenceRecord, queries: list[str],
                only: str | None = None) -> None:
    """Fence the side as the record says (the record is already stored); only: "postgres" or "mongodb"."""
    if record.get("postgres") and only in (None, "postgres"):
        fence_postgres(sides.pg_conn(side), PgReadOnlyChange.from_dict(record["postgres"]), queries,
                       f"postgres:{side}")
    if record.get("mongodb") and only in (None, "mongodb"):
        shown: list[str] = []
        mongo_engage.enable(sides.mongo_client(side), sides.database, MongoReadOnlyChange.from_dict(record["mongodb"]),
                            shown)
        queries.extend(f"mongodb:{side}: {text}" for text in shown)


def lift_fence(sides: OpenSides, side: str, record: FenceRecord, queries: list[str],
               only: str | None = None) -> None:
    if record.get("postgres") and only in (None, "postgres"):
        unfence_postgres(sides.pg_conn(side), PgReadOnlyChange.from_dict(record["postgres"]), queries,
                         f"postgres:{side}")
    if record.get("mongodb") and only in (None, "mongodb"):
        shown: list[str] = []
        mongo_engage.disable(sides.mongo_client(side), sides.database, record["mongodb"], shown)
        queries.extend(f"mongodb:{side}: {text}" for text in shown)


def planned_fence_queries(sides: OpenSides, side: str, record: FenceRecord) -> list[str]:
    """What apply_fence would run, for check mode."""
    planned: list[str] = []
    if record.get("postgres"):
        conn = sides.pg_conn(side)
        change = PgReadOnlyChange.from_dict(record["postgres"])
        planned += [f"postgres:{side}: " + statements.as_text(conn, statements.set_role_setting(item))
                    for item in change.role_settings]
        planned += [f"postgres:{side}: " + statements.as_text(conn, statements.revoke(grant))
                    for grant in statements.revoke_order(change.revoked)]
        if change.fenced_roles:
            planned.append(f"postgres:{side}: terminate the writing sessions of {', '.join(change.fenced_roles)}")
    if record.get("mongodb"):
        change_m = MongoReadOnlyChange.from_dict(record["mongodb"])
        planned += [f"mongodb:{side}: revokeRolesFromUser {user} {roles}" for user, roles in change_m.revoked.items()]
    return planned

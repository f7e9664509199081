"""Plan the PostgreSQL read-only mode by reading the catalogs; nothing here changes the server.

Why grants, not NOLOGIN: the mode must stop writes while reads keep working, and NOLOGIN refuses new connections,
reads included. A role-level default_transaction_read_only alone is no fence either: any session may
`SET default_transaction_read_only = off` or `BEGIN READ WRITE`. Revoking the write privileges (INSERT, UPDATE,
DELETE, TRUNCATE on tables and columns, USAGE and UPDATE on sequences, CREATE on schemas) is something a session
cannot undo for itself, and it is
exactly reversible when every ACL entry removed is recorded with its grantor and grant option, which is what the
plan holds. A role that can act as the owner of a relation (the owner may grant itself the privilege back), or is a
member of a superuser, of pg_write_all_data or of an exempt role, cannot be fenced by grants: hard mode refuses
rather than report a fence that does not hold. Superusers that are not exempt are listed as unfenced.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import (
    READ_ONLY_SETTING,
    PgReadOnlyChange,
    RevokedGrant,
    RoleSetting,
    SystemSetting,
)

MODES = ("hard", "soft")
TRUE_SPELLINGS = {"on", "true", "yes", "1", "t", "y"}
# The relations and schemas the mode covers: not the system catalogs, TOAST or temporary schemas. A LIKE pattern's
# % is doubled: the queries carry parameters.
USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%' "
                "AND n.nspname NOT LIKE 'pg\\_temp%%'")
WRITABLE_RELATIONS = "c.relkind IN ('r', 'p', 'v', 'm', 'f')"
# An owner may grant itself any privilege back: sequences count here too.
OWNABLE_RELATIONS = "c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
GRANTEE_MATCH = "(a.grantee = 0 OR g.rolname = ANY(%s))"


def _query(text: str) -> Any:
    """A catalog query with the fixed filters above spliced in (constants, never input)."""
    return sql.SQL(text).format(user_schemas=sql.SQL(USER_SCHEMAS), writable=sql.SQL(WRITABLE_RELATIONS),
                                ownable=sql.SQL(OWNABLE_RELATIONS), grantee_match=sql.SQL(GRANTEE_MATCH))


def is_on(value: str | None) -> bool:
    return value is not None and value.strip().strip("'").lower() in TRUE_SPELLINGS


def plan_enable(conn: Any, exempt_roles: list[str], mode: str, *, unknown_exempt_ok: bool = False
                ) -> PgReadOnlyChange:
    """What enabling would change now (already read-only items are left out).

    unknown_exempt_ok: the names may be MongoDB users too (both databases share exempt_roles), so a name that is
    not a PostgreSQL role is not a typo by itself.
    """
    if mode not in MODES:
        raise DbopsError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    exempt = exempt_set(conn, exempt_roles, unknown_ok=unknown_exempt_ok)
    logins = conn.execute(
        "SELECT rolname, rolsuper FROM pg_roles WHERE rolcanlogin AND rolname NOT LIKE 'pg\\_%' "
        "AND has_database_privilege(oid, current_database(), 'CONNECT') ORDER BY rolname").fetchall()
    fenced = [name for name, superuser in logins if not superuser and name not in exempt]
    unfenced = [name for name, superuser in logins if superuser and name not in exempt]
    change = PgReadOnlyChange(mode=mode, system=_system_setting(conn), fenced_roles=fenced, unfenced=unfenced)
    targets = {role: "off" for role in sorted(exempt)}
    if mode == "hard":
        _refuse_unfenceable(conn, fenced, exempt)
        targets.update({role: "on" for role in fenced})
        change.revoked = write_grants(conn, _grantees(conn, fenced, exempt))
    change.role_settings = [setting for role, target in targets.items()
                            if (setting := _role_setting(conn, role, target)) is not None]
    return change


def exempt_set(conn: Any, exempt_roles: list[str], *, unknown_ok: bool = False) -> set[str]:
    """The exempt roles, always with the role this connection logged in as (it must be able to undo and repair)."""
    own = conn.execute("SELECT session_user, current_user").fetchone()
    exempt = {*exempt_roles, *own}
    known = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                            (sorted(exempt),)).fetchall()}
    unknown = sorted(exempt - known)
    if unknown and not unknown_ok:
        raise DbopsError(f"exempt_roles names roles that do not exist: {', '.join(unknown)}")
    return exempt & known


def _system_setting(conn: Any) -> SystemSetting | None:
    rows = conn.execute(
        "SELECT setting FROM pg_file_settings WHERE name = %s AND sourcefile LIKE '%%postgresql.auto.conf' "
        "ORDER BY seqno", (READ_ONLY_SETTING,)).fetchall()
    previous = rows[-1][0] if rows else None
    return None if is_on(previous) else SystemSetting(previous=previous)


def role_setting_value(conn: Any, role: str) -> str | None:
    """The role's own (all databases) default_transaction_read_only, None when it has none."""
    row = conn.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "WHERE s.setdatabase = 0 AND r.rolname = %s", (role,)).fetchone()
    for entry in (row[0] if row else None) or []:
        name, _eq, value = entry.partition("=")
        if name == READ_ONLY_SETTING:
            return value
    return None


def _role_setting(conn: Any, role: str, target: str) -> RoleSetting | None:
    previous = role_setting_value(conn, role)
    if previous is not None and is_on(previous) == is_on(target):
        return None  # already what the mode needs: not recorded, so disabling leaves it as it is
    return RoleSetting(role=role, previous=previous, target=target)


def _refuse_unfenceable(conn: Any, fenced: list[str], exempt: set[str]) -> None:
    problems = []
    for role in fenced:
        owned = conn.execute(
            _query("SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE {ownable} AND {user_schemas} AND pg_has_role(%s, c.relowner, 'MEMBER') "
                   "ORDER BY 1 LIMIT 3"), (role,)).fetchall()
        if owned:
            problems.append(f"{role} can act as the owner of {', '.join(row[0] for row in owned)}")
        powers = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname <> %s AND (rolsuper OR rolname = 'pg_write_all_data' "
            "OR rolname = ANY(%s)) AND pg_has_role(%s, oid, 'MEMBER') ORDER BY 1", (role, sorted(exempt), role)
        ).fetchall()
        if powers:
            problems.append(f"{role} is a member of {', '.join(row[0] for row in powers)}")
    if problems:
        raise DbopsError("hard read-only mode cannot fence these roles with grants (they could write anyway): "
                         + "; ".join(problems) + ". Add them to exempt_roles, or use mode: soft")


def _grantees(conn: Any, fenced: list[str], exempt: set[str]) -> list[str]:
    """The fenced roles and every role whose privileges they can use (groups), not the exempt ones or superusers."""
    if not fenced:
        return []
    rows = conn.execute(
        "SELECT DISTINCT g.rolname FROM pg_roles g JOIN pg_roles m ON m.rolname = ANY(%s) "
        "WHERE NOT g.rolsuper AND pg_has_role(m.oid, g.oid, 'MEMBER') ORDER BY 1", (fenced,)).fetchall()
    return [row[0] for row in rows if row[0] not in exempt]


def write_grants(conn: Any, grantees: list[str]) -> list[RevokedGrant]:
    """Every ACL entry giving a write privilege to one of grantees or to PUBLIC, in this database."""
    if not grantees:
        return []
    tables = conn.execute(_query(
        "SELECT 'table', n.nspname, c.relname, NULL, a.privilege_type, COALESCE(g.rolname, 'PUBLIC'), gr.rolname, "
        "a.is_grantable FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee "
        "JOIN pg_roles gr ON gr.oid = a.grantor "
        "WHERE {writable} AND {user_schemas} "
        "AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') AND {grantee_match}"),
        (grantees,)).fetchall()
    columns = conn.execute(_query(
        "SELECT 'column', n.nspname, c.relname, att.attname, a.privilege_type, COALESCE(g.rolname, 'PUBLIC'), "
        "gr.rolname, a.is_grantable FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(att.attacl) a "
        "LEFT JOIN pg_roles g ON g.oid = a.grantee JOIN pg_roles gr ON gr.oid = a.grantor "
        "WHERE att.attnum > 0 AND NOT att.attisdropped AND {writable} "
        "AND {user_schemas} AND a.privilege_type IN ('INSERT', 'UPDATE') AND {grantee_match}"),
        (grantees,)).fetchall()
    sequences = conn.execute(_query(
        "SELECT 'sequence', n.nspname, c.relname, NULL, a.privilege_type, COALESCE(g.rolname, 'PUBLIC'), "
        "gr.rolname, a.is_grantable FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee "
        "JOIN pg_roles gr ON gr.oid = a.grantor "
        "WHERE c.relkind = 'S' AND {user_schemas} AND a.privilege_type IN ('USAGE', 'UPDATE') AND {grantee_match}"),
        (grantees,)).fetchall()
    schemas = conn.execute(_query(
        "SELECT 'schema', n.nspname, NULL, NULL, a.privilege_type, COALESCE(g.rolname, 'PUBLIC'), gr.rolname, "
        "a.is_grantable FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a "
        "LEFT JOIN pg_roles g ON g.oid = a.grantee JOIN pg_roles gr ON gr.oid = a.grantor "
        "WHERE {user_schemas} AND a.privilege_type = 'CREATE' AND {grantee_match}"),
        (grantees,)).fetchall()
    grants = [RevokedGrant(*row) for row in [*tables, *columns, *sequences, *schemas]]
    return sorted(grants, key=lambda grant: tuple(str(part) for part in grant.key))

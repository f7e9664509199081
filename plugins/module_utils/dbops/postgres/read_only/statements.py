"""The statements of the read-only mode, built only with psycopg.sql (identifiers through sql.Identifier)."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import (
    PUBLIC,
    READ_ONLY_SETTING,
    SEQUENCE_PRIVILEGES,
    WRITE_PRIVILEGES,
    RevokedGrant,
    RoleSetting,
)

SCHEMA_PRIVILEGES = ("CREATE",)
PRIVILEGES_BY_KIND = {"schema": SCHEMA_PRIVILEGES, "sequence": SEQUENCE_PRIVILEGES}


def _grantee(name: str) -> Any:
    return sql.SQL("PUBLIC") if name == PUBLIC else sql.Identifier(name)


def _privilege(grant: RevokedGrant) -> Any:
    allowed = PRIVILEGES_BY_KIND.get(grant.kind, WRITE_PRIVILEGES)
    if grant.privilege not in allowed:  # the keyword is spliced in as SQL: only the known ones
        raise DbopsError(f"unexpected privilege {grant.privilege!r} in the read-only record")
    if grant.kind == "column":
        return sql.SQL("{} ({})").format(sql.SQL(grant.privilege), sql.Identifier(grant.column or ""))
    return sql.SQL(grant.privilege)


def _object(grant: RevokedGrant) -> Any:
    if grant.kind == "schema":
        return sql.SQL("SCHEMA {}").format(sql.Identifier(grant.schema))
    if grant.kind == "sequence":
        return sql.SQL("SEQUENCE {}").format(sql.Identifier(grant.schema, grant.name or ""))
    return sql.SQL("TABLE {}").format(sql.Identifier(grant.schema, grant.name or ""))


def revoke(grant: RevokedGrant) -> Any:
    return sql.SQL("REVOKE {} ON {} FROM {}").format(_privilege(grant), _object(grant), _grantee(grant.grantee))


def regrant(grant: RevokedGrant) -> Any:
    option = sql.SQL(" WITH GRANT OPTION") if grant.grantable else sql.SQL("")
    return sql.SQL("GRANT {} ON {} TO {}{}").format(
        _privilege(grant), _object(grant), _grantee(grant.grantee), option)


def as_role(role: str) -> Any:
    """A grant is an ACL entry of its grantor: revoked or made again as that role, so the very entry goes/returns
    (a superuser's REVOKE acts as the owner and would miss an entry another grantor made)."""
    return sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role))


def set_role_setting(setting: RoleSetting) -> Any:
    return sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(setting.role), sql.Identifier(READ_ONLY_SETTING),
                                                       sql.Literal(setting.target))


def restore_role_setting(setting: RoleSetting) -> Any:
    if setting.previous is None:
        return sql.SQL("ALTER ROLE {} RESET {}").format(sql.Identifier(setting.role), sql.Identifier(READ_ONLY_SETTING))
    return sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(setting.role), sql.Identifier(READ_ONLY_SETTING),
                                                       sql.Literal(setting.previous))


def set_system() -> Any:
    return sql.SQL("ALTER SYSTEM SET {} = on").format(sql.Identifier(READ_ONLY_SETTING))


def restore_system(previous: str | None) -> Any:
    if previous is None:
        return sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(READ_ONLY_SETTING))
    return sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(READ_ONLY_SETTING), sql.Literal(previous))


def revoke_order(grants: list[RevokedGrant]) -> list[RevokedGrant]:
    """Entries granted by a grantee of another entry first: their grantor's grant option must still be there."""
    grantees = {grant.grantee for grant in grants}
    return sorted(grants, key=lambda grant: 0 if grant.grantor in grantees else 1)


def as_text(conn: Any, statement: Any) -> str:
    return statement.as_string(conn) if hasattr(statement, "as_string") else str(statement)

"""Prove the PostgreSQL read-only mode: writes refused, reads working, as the roles it fences.

Two kinds of probe. As each fenced role (SET ROLE from this superuser session, inside a transaction that is always
rolled back, and READ WRITE with the session default off, as a determined application session would be): a write
it was allowed before must fail with insufficient_privilege or read_only_sql_transaction, and a read of a table it
may read must succeed. And a brand-new connection as a probe role created for the purpose (dropped afterwards):
a write (CREATE TEMP TABLE) must be refused as read-only, a read must work; this proves the system setting
reaches new sessions. A probe that cannot run (no table to try, the server refuses the probe's login) is listed
as skipped; a write accepted or a read refused fails the verification.
"""

from __future__ import annotations

import secrets
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    connect,
    make_conninfo,
    psycopg,
    sql,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import (
    PUBLIC,
    PgReadOnlyChange,
    RevokedGrant,
)

REFUSED_SQLSTATES = {"42501": "insufficient_privilege", "25006": "read_only_sql_transaction"}
PROBE_ROLE_PREFIX = "dbops_read_only_probe_"


class _Rollback(Exception):
    """Leaves a probe's transaction: nothing a probe does may stay."""


def verify(conn: Any, dsn: str, change: PgReadOnlyChange, probes: list[dict[str, Any]]) -> None:
    """Append one record per probe to probes; raise when a write was accepted or a read refused.

    A sequence probe counts as a write: nextval() by a fenced role must be refused."""
    conn.execute("SET default_transaction_read_only = off")
    for role in change.fenced_roles:
        grant = _writable_before(conn, role, change.revoked)
        if grant is not None:
            probes.append(_probe(conn, role, "write", _write_statement(conn, grant)))
        elif change.mode == "hard":
            probes.append({"database": "postgres", "role": role, "kind": "write", "outcome": "skipped",
                           "detail": "the role had no write privilege to try", "ok": True})
        sequence = _granted_to(conn, role, [item for item in change.revoked if item.kind == "sequence"])
        if sequence is not None:
            # nextval() is not transactional: were the fence broken, the probe would leave a gap of one in the
            # sequence, as any rolled-back insert does; refused, it leaves nothing.
            probes.append(_probe(conn, role, "sequence", sql.SQL("SELECT nextval({})").format(
                sql.Literal(sql.Identifier(sequence.schema, sequence.name or "").as_string(conn)))))
        table = _readable_table(conn, role)
        if table is not None:
            probes.append(_probe(conn, role, "read", sql.SQL("SELECT 1 FROM {} LIMIT 1").format(table)))
    probes.extend(_new_connection_probes(conn, dsn))
    failed = [probe for probe in probes if probe["database"] == "postgres" and not probe["ok"]]
    if failed:
        raise DbopsError("PostgreSQL read-only verification failed: " + "; ".join(
            f"{probe['kind']} as {probe['role']} {probe['outcome']} ({probe['statement']})" for probe in failed))


def verify_lifted(conn: Any, dsn: str, change: PgReadOnlyChange, probes: list[dict[str, Any]]) -> None:
    """After disabling: as each role the mode fenced, a write it was allowed before must be accepted again (in a
    transaction that is rolled back), and a new connection must be able to write unless the server default was
    already read-only before the mode. Raise when one is still refused."""
    start = len(probes)
    conn.execute("SET default_transaction_read_only = off")
    for role in change.fenced_roles:
        grant = _writable_before(conn, role, change.revoked)
        if grant is not None and grant.privilege in ("DELETE", "UPDATE"):  # tried on no row: nothing to undo
            probes.append(_probe(conn, role, "write", _write_statement(conn, grant), lifted=True))
    if change.system is not None:  # the mode set the server default: new sessions must write again
        probes.extend(_new_connection_probes(conn, dsn, lifted=True))
    failed = [probe for probe in probes[start:] if not probe["ok"]]
    if failed:
        raise DbopsError("PostgreSQL still refuses writes after the read-only mode was lifted: " + "; ".join(
            f"{probe['kind']} as {probe['role']} {probe['outcome']} ({probe['statement']})" for probe in failed))


def _writable_before(conn: Any, role: str, revoked: list[RevokedGrant]) -> RevokedGrant | None:
    """A table write the role could do before the mode (its own grant, a group's, PUBLIC's); DELETE/UPDATE first:
    they can be tried on no row at all."""
    order = {"DELETE": 0, "UPDATE": 1, "INSERT": 2, "TRUNCATE": 3}
    candidates = [grant for grant in revoked if grant.kind in ("table", "column")]
    return _granted_to(conn, role, sorted(candidates, key=lambda item: order[item.privilege]))


def _granted_to(conn: Any, role: str, grants: list[RevokedGrant]) -> RevokedGrant | None:
    """The first of grants that the role held before the mode (its own, a group's, PUBLIC's)."""
    for grant in grants:
        if grant.grantee == PUBLIC or grant.grantee == role or conn.execute(
                "SELECT pg_has_role(%s, %s, 'MEMBER')", (role, grant.grantee)).fetchone()[0]:
            return grant
    return None


def _write_statement(conn: Any, grant: RevokedGrant) -> Any:
    table = sql.Identifier(grant.schema, grant.name or "")
    if grant.privilege == "DELETE":
        return sql.SQL("DELETE FROM {} WHERE false").format(table)
    if grant.privilege == "UPDATE":
        column = grant.column or _plain_column(conn, grant)
        return sql.SQL("UPDATE {} SET {} = DEFAULT WHERE false").format(table, sql.Identifier(column))
    if grant.privilege == "INSERT":
        if grant.column:
            return sql.SQL("INSERT INTO {} ({}) VALUES (DEFAULT)").format(table, sql.Identifier(grant.column))
        return sql.SQL("INSERT INTO {} DEFAULT VALUES").format(table)
    return sql.SQL("TRUNCATE {}").format(table)


def _plain_column(conn: Any, grant: RevokedGrant) -> str:
    row = conn.execute(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum LIMIT 1", (grant.schema, grant.name)
    ).fetchone()
    return row[0] if row else "?"


def _readable_table(conn: Any, role: str) -> Any:
    row = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%%' AND has_schema_privilege(%s, n.oid, 'USAGE') "
        "AND has_table_privilege(%s, c.oid, 'SELECT') ORDER BY n.nspname, c.relname LIMIT 1", (role, role)
    ).fetchone()
    return sql.Identifier(row[0], row[1]) if row else None


def _probe(conn: Any, role: str, kind: str, statement: Any, *, lifted: bool = False) -> dict[str, Any]:
    text = statement.as_string(conn)
    record: dict[str, Any] = {"database": "postgres", "role": role, "kind": kind, "statement": text}
    if lifted:
        record["expect"] = "accepted"
    try:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '2s'")
            conn.execute("SET LOCAL statement_timeout = '5s'")
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            conn.execute("SET LOCAL transaction_read_only = off")
            conn.execute(statement)
            raise _Rollback
    except _Rollback:
        _judge(record, kind, None, set(REFUSED_SQLSTATES))
    except psycopg.Error as exc:
        _judge(record, kind, exc, set(REFUSED_SQLSTATES))
    return record


def _judge(record: dict[str, Any], kind: str, error: Any, refusals: set[str]) -> None:
    """A write probe (any kind but read) is right when refused with one of `refusals`, or, after the mode was
    lifted (expect: accepted), when it succeeded; a read probe when it succeeded."""
    must_work = kind == "read" or record.get("expect") == "accepted"
    if error is None:
        record.update(outcome="succeeded" if kind == "read" else "accepted", ok=must_work)
        return
    state = getattr(error, "sqlstate", None) or ""
    refused = state in refusals
    record.update(outcome=f"refused ({REFUSED_SQLSTATES.get(state, state)})" if refused else f"failed ({state})",
                  ok=not must_work and refused, detail=str(error).strip().splitlines()[0])


def _new_connection_probes(conn: Any, dsn: str, *, lifted: bool = False) -> list[dict[str, Any]]:
    """As a login role made for the purpose, over a new connection; the role is dropped in any case."""
    role = PROBE_ROLE_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    try:
        probe_dsn = make_conninfo(dsn, user=role, password=password)
        try:
            probe_conn = connect(probe_dsn, connect_timeout=5)
        except DbopsError as exc:
            return [{"database": "postgres", "role": role, "kind": "new connection", "outcome": "skipped",
                     "detail": f"the probe role cannot log in: {exc}", "ok": True, "statement": ""}]
        with probe_conn:
            return [_fresh_session_probe(probe_conn, role, "write", "CREATE TEMP TABLE dbops_read_only_probe (x int)",
                                         lifted=lifted),
                    _fresh_session_probe(probe_conn, role, "read", "SELECT count(*) FROM pg_class")]
    finally:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _fresh_session_probe(conn: Any, role: str, kind: str, statement: str, *, lifted: bool = False
                         ) -> dict[str, Any]:
    record: dict[str, Any] = {"database": "postgres", "role": role, "kind": f"{kind} (new connection)",
                              "statement": statement}
    if lifted:
        record["expect"] = "accepted"
    try:
        with conn.transaction():
            conn.execute(statement)
            raise _Rollback
    except _Rollback:
        _judge(record, kind, None, {"25006"})
    except psycopg.Error as exc:
        _judge(record, kind, exc, {"25006"})  # a new session is refused by the read-only setting itself
    return record

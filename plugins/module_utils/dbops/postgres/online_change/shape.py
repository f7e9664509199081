"""What an online change must know of a table before it starts: read once from the catalog, as records.

The definitions of foreign keys and views are read with search_path = pg_catalog, so they name every table with
its schema: replayed after the swap, they resolve to the new table, which then has the original's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.names import split_table_name


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(), valid SQL
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    generated: bool
    has_column_grants: bool


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str  # the referencing table, schema-qualified (incoming keys), or this table (outgoing)
    schema: str
    relname: str
    definition: str  # pg_get_constraintdef, schema-qualified, without NOT VALID
    validated: bool
    on_partitioned: bool  # declared on a partitioned table or a partition: not re-added NOT VALID there


@dataclass(frozen=True)
class Grant:
    grantee: str  # '' = PUBLIC
    privilege: str
    grantable: bool


@dataclass(frozen=True)
class DependentView:
    oid: int
    schema: str
    name: str
    kind: str  # 'v' view, 'm' materialized view
    definition: str
    owner: str
    grants: tuple[Grant, ...]
    options: tuple[str, ...]
    comment: str | None
    dependent_views: tuple[str, ...]  # views built on this view (refused: they would have to move too)


@dataclass(frozen=True)
class OwnedSequence:
    schema: str
    name: str
    column: str
    identity: bool  # an identity column's own sequence (a new one comes with the new table)


@dataclass(frozen=True)
class TableShape:
    oid: int
    schema: str
    name: str
    kind: str  # relkind
    persistence: str
    is_partition: bool
    row_security: bool
    replica_identity: str
    owner: str
    has_acl: bool
    grants: tuple[Grant, ...]
    options: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    outgoing_fks: tuple[ForeignKey, ...]
    incoming_fks: tuple[ForeignKey, ...]
    views: tuple[DependentView, ...]
    sequences: tuple[OwnedSequence, ...]
    triggers: tuple[str, ...]  # user triggers (not the engine's own, not the foreign keys' internal ones)
    rules: tuple[str, ...]
    policies: tuple[str, ...]
    publications: tuple[str, ...]
    inheritance: tuple[str, ...]  # parents and children
    other_dependents: tuple[str, ...]  # anything else that depends on the table or its row type

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class TableMissing(LookupError):
    """The table named by an online change does not exist."""


def _rows(conn: Any, query: str, params: tuple) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def table_oid(conn: Any, table: str) -> int | None:
    """The oid of the table as written in migration.yml (unqualified: found through the search_path)."""
    schema, name = split_table_name(table)
    if schema is None:
        row = conn.execute("SELECT c.oid FROM pg_class c WHERE c.relname = %s AND c.relkind IN ('r', 'p') "
                           "AND pg_table_is_visible(c.oid)", (name,)).fetchone()
        return int(row[0]) if row else None
    return relation_oid(conn, schema, name)


def relation_oid(conn: Any, schema: str, name: str) -> int | None:
    row = conn.execute("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
    return int(row[0]) if row else None


def read_shape(conn: Any, table: str, *, own_trigger: str | None = None) -> TableShape:
    """The table's shape in one transaction (the caller's connection is in autocommit); own_trigger is the
    engine's mirror trigger of a change being resumed, not a user trigger."""
    oid = table_oid(conn, table)
    if oid is None:
        raise TableMissing(table)
    return read_shape_of(conn, oid, own_trigger=own_trigger)


def read_shape_of(conn: Any, oid: int, *, own_trigger: str | None = None) -> TableShape:
    with conn.transaction():
        # Set back before the end: inside a caller's transaction, the mirror function created next takes the
        # session's search_path (SET search_path FROM CURRENT).
        previous = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
        conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        try:
            return _read(conn, oid, own_trigger)
        finally:
            conn.execute("SELECT set_config('search_path', %s, true)", (previous,))


def _read(conn: Any, oid: int, own_trigger: str | None) -> TableShape:
    (schema, name, kind, persistence, is_partition, row_security, replident, owner, acl, options,
     reltype) = conn.execute(
        "SELECT n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.relispartition, c.relrowsecurity, "
        "c.relreplident::text, pg_get_userbyid(c.relowner), c.relacl IS NOT NULL, COALESCE(c.reloptions, '{}'), "
        "c.reltype FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s", (oid,)).fetchone()
    grants = relation_grants(conn, oid)
    columns = tuple(Column(*r) for r in _rows(conn, (
        "SELECT attname, format_type(atttypid, atttypmod), attidentity::text, attgenerated <> '', "
        "attacl IS NOT NULL FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), (oid,)))
    primary_key = tuple(r[0] for r in _rows(conn, (
        "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = %s AND i.indisprimary "
        "AND a.attrelid = i.indrelid ORDER BY k.ord"), (oid,)))
    fk_query = ("SELECT con.conname, con.conrelid::regclass::text, n.nspname, c.relname, "
                "regexp_replace(pg_get_constraintdef(con.oid), ' NOT VALID$', ''), con.convalidated, "
                "c.relkind = 'p' OR c.relispartition FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.contype = 'f' AND {} ORDER BY 1")
    outgoing = tuple(ForeignKey(*r) for r in _rows(conn, fk_query.format("con.conrelid = %s"), (oid,)))
    incoming = tuple(ForeignKey(*r) for r in _rows(conn, fk_query.format("con.confrelid = %s"), (oid,)))
    return TableShape(
        oid=oid, schema=schema, name=name, kind=kind, persistence=persistence, is_partition=is_partition,
        row_security=row_security, replica_identity=replident, owner=owner, has_acl=acl, grants=grants,
        options=tuple(options), columns=columns, primary_key=primary_key, outgoing_fks=outgoing,
        incoming_fks=incoming, views=_views(conn, oid), sequences=_sequences(conn, oid),
        triggers=tuple(r[0] for r in _rows(conn, (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal AND tgname IS DISTINCT FROM %s "
            "ORDER BY 1"), (oid, own_trigger))),
        rules=tuple(r[0] for r in _rows(conn, (
            "SELECT rulename FROM pg_rewrite WHERE ev_class = %s AND rulename <> '_RETURN' ORDER BY 1"), (oid,))),
        policies=tuple(r[0] for r in _rows(conn, "SELECT polname FROM pg_policy WHERE polrelid = %s ORDER BY 1",
                                           (oid,))),
        publications=tuple(r[0] for r in _rows(conn, (
            "SELECT pubname FROM pg_publication WHERE puballtables OR oid IN "
            "(SELECT prpubid FROM pg_publication_rel WHERE prrelid = %s) ORDER BY 1"), (oid,))),
        inheritance=tuple(r[0] for r in _rows(conn, (
            "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = %s UNION "
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s ORDER BY 1"), (oid, oid))),
        other_dependents=_other_dependents(conn, oid, reltype),
    )


def relation_grants(conn: Any, oid: int) -> tuple[Grant, ...]:
    return tuple(Grant(*r) for r in _rows(conn, (
        "SELECT CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, "
        "a.is_grantable FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s ORDER BY 1, 2"), (oid,)))


def _views(conn: Any, oid: int) -> tuple[DependentView, ...]:
    views = []
    for row in _rows(conn, (
            "SELECT DISTINCT v.oid, vn.nspname, v.relname, v.relkind::text, pg_get_viewdef(v.oid), "
            "pg_get_userbyid(v.relowner), COALESCE(v.reloptions, '{}'), "
            "obj_description(v.oid, 'pg_class') FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace "
            "WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass "
            "AND d.refobjid = %s AND v.oid <> %s ORDER BY 2, 3"), (oid, oid)):
        dependents = tuple(r[0] for r in _rows(conn, (
            "SELECT DISTINCT v.oid::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            "JOIN pg_class v ON v.oid = r.ev_class WHERE d.classid = 'pg_rewrite'::regclass "
            "AND d.refclassid = 'pg_class'::regclass AND d.refobjid = %s AND v.oid <> %s ORDER BY 1"),
            (row[0], row[0])))
        views.append(DependentView(oid=row[0], schema=row[1], name=row[2], kind=row[3], definition=row[4],
                                   owner=row[5], grants=relation_grants(conn, row[0]), options=tuple(row[6]),
                                   comment=row[7],
                                   dependent_views=dependents))
    return tuple(views)


def _sequences(conn: Any, oid: int) -> tuple[OwnedSequence, ...]:
    return tuple(OwnedSequence(*r) for r in _rows(conn, (
        "SELECT sn.nspname, s.relname, a.attname, d.deptype = 'i' FROM pg_depend d "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = %s "
        "AND d.deptype IN ('a', 'i') ORDER BY 1, 2"), (oid,)))


def _other_dependents(conn: Any, oid: int, reltype: int) -> tuple[str, ...]:
    """Objects depending on the table or its row type that no step of the change moves: the views, the foreign
    keys, triggers, policies and publications are read (and moved or refused) above."""
    return tuple(r[0] for r in _rows(conn, (
        "SELECT DISTINCT pg_describe_object(classid, objid, objsubid) FROM pg_depend "
        "WHERE deptype = 'n' AND ((refclassid = 'pg_class'::regclass AND refobjid = %s) "
        "OR (refclassid = 'pg_type'::regclass AND refobjid = %s)) AND classid NOT IN "
        "('pg_rewrite'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass, "
        "'pg_publication_rel'::regclass) AND NOT (classid = 'pg_class'::regclass AND objid = %s) "
        "AND NOT (classid = 'pg_type'::regclass AND objid IN (SELECT oid FROM pg_type WHERE typelem = %s)) "
        "ORDER BY 1"), (oid, reltype, oid, reltype)))

"""The swap: in ONE short transaction under the change's lock_timeout (retried with backoff when it runs out),
the shadow takes the original's place and everything that pointed to the original points to it.

Order inside the transaction: both tables locked ACCESS EXCLUSIVE (original first, like every writer), the
mirror trigger dropped (nothing writes any more), dependent views and incoming foreign keys dropped, the original
and its indexes renamed away (the old table stays, for a later contract set to drop), the shadow and its indexes
take the original names, then ownership, grants, owned sequences, identity sequences, views (with owner, grants,
options, comment) and incoming foreign keys (NOT VALID) are put back. After the commit: VALIDATE CONSTRAINT of
the NOT VALID keys (no lock that blocks writes) and ANALYZE.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.names import bounded
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shadow import (
    SHADOW_OPTION_NAMES,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import (
    Grant,
    TableShape,
)

# An index's definition without its own name and its table's: the same text for the original's index and the
# shadow's copy of it (LIKE ... INCLUDING INDEXES gives the copies generated names).
INDEX_SIGNATURES = ("SELECT c.relname, regexp_replace(pg_get_indexdef(i.indexrelid), ' INDEX \\S+ ON \\S+ ', "
                    "' INDEX ON ') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s "
                    "ORDER BY i.indisprimary DESC, c.relname")


PRIMARY_KEY_INDEX = ("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                     "WHERE i.indrelid = %s AND i.indisprimary")
IDENTITY_SEQUENCES = ("SELECT a.attname, s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
                      "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
                      "WHERE d.classid = 'pg_class'::regclass AND d.refobjid = %s AND d.deptype = 'i'")


def _relation(schema: str, name: str) -> sql.Composable:
    return sql.Identifier(schema, name)


def grant_statements(kind: str, target: sql.Composable, grants: tuple[Grant, ...], owner: str
                     ) -> list[sql.Composable]:
    """The ACL replayed on a new relation (the owner's own privileges come with ownership)."""
    statements: list[sql.Composable] = []
    for grant in grants:
        if grant.grantee == owner:
            continue
        grantee = sql.SQL("PUBLIC") if not grant.grantee else sql.Identifier(grant.grantee)
        statements.append(sql.SQL("GRANT {} ON {} {} TO {}{}").format(
            sql.SQL(grant.privilege), sql.SQL(kind), target, grantee,
            sql.SQL(" WITH GRANT OPTION") if grant.grantable else sql.SQL("")))
    return statements


def swap_statements(conn: Any, original: TableShape, shadow_oid: int, shadow: str, old: str, tag: str
                    ) -> tuple[list[sql.Composable], list[tuple[str, str, str]]]:
    """The swap's statements after the locks and the trigger's drop, and the constraints to validate after it.
    Reads the two tables' indexes (the caller holds both locks)."""
    schema = original.schema
    table = _relation(schema, original.name)
    statements: list[sql.Composable] = []
    for view in original.views:
        statements.append(sql.SQL("DROP VIEW {}").format(_relation(view.schema, view.name)))
    for fk in original.incoming_fks:
        statements.append(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            _relation(fk.schema, fk.relname), sql.Identifier(fk.name)))
    statements.append(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, sql.Identifier(old)))
    old_indexes = conn.execute(INDEX_SIGNATURES, (original.oid,)).fetchall()
    new_indexes = {signature: name for name, signature in conn.execute(INDEX_SIGNATURES, (shadow_oid,)).fetchall()}
    renames = []
    for name, signature in old_indexes:
        statements.append(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            _relation(schema, name), sql.Identifier(bounded(name, f"__old_{tag}"))))
        if signature in new_indexes:
            renames.append((new_indexes.pop(signature), name))
    # A changed primary key has another definition: the new table's primary key still takes the original's name.
    old_primary = conn.execute(PRIMARY_KEY_INDEX, (original.oid,)).fetchone()
    new_primary = conn.execute(PRIMARY_KEY_INDEX, (shadow_oid,)).fetchone()
    if (old_primary and new_primary and old_primary[0] not in {name for _new, name in renames}
            and new_primary[0] in new_indexes.values()):
        renames.append((new_primary[0], old_primary[0]))
    for identity in [s for s in original.sequences if s.identity]:
        statements.append(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
            _relation(identity.schema, identity.name), sql.Identifier(bounded(identity.name, f"__old_{tag}"))))
    statements.append(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        _relation(schema, shadow), sql.Identifier(original.name)))
    statements.extend(sql.SQL("ALTER INDEX {} RENAME TO {}").format(_relation(schema, new), sql.Identifier(name))
                      for new, name in renames)
    # Autovacuum back as the original had it (the shadow was filled without it: see shadow.py).
    statements.append(sql.SQL("ALTER TABLE {} RESET ({})").format(table, sql.SQL(", ").join(
        sql.SQL(name) for name in SHADOW_OPTION_NAMES)))
    kept = [option for option in original.options if option.split("=", 1)[0].strip() in SHADOW_OPTION_NAMES]
    if kept:
        statements.append(sql.SQL("ALTER TABLE {} SET ({})").format(table, sql.SQL(", ").join(
            sql.SQL(option) for option in kept)))
    statements.extend(grant_statements("TABLE", table, original.grants, original.owner))
    statements.append(sql.SQL("ALTER TABLE {} OWNER TO {}").format(table, sql.Identifier(original.owner)))
    new_identity = dict(conn.execute(IDENTITY_SEQUENCES, (shadow_oid,)).fetchall())
    for sequence in original.sequences:
        if sequence.identity:
            # The new table's identity column has a sequence of its own: it takes the original's name and moves
            # past every value the old one handed out.
            if sequence.column not in new_identity:
                continue
            moved = _relation(schema, new_identity[sequence.column])
            statements.append(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                moved, sql.Identifier(sequence.name)))
            statements.append(sql.SQL("SELECT setval({}, s.last_value, s.is_called) FROM {} s").format(
                sql.Literal(sql.Identifier(schema, sequence.name).as_string(conn)),
                _relation(sequence.schema, bounded(sequence.name, f"__old_{tag}"))))
        else:
            # A serial's sequence: the new table's column default already uses it; it now belongs to the new
            # column, so dropping the old table later keeps it.
            statements.append(sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
                _relation(sequence.schema, sequence.name), table, sql.Identifier(sequence.column)))
    for view in original.views:
        target = _relation(view.schema, view.name)
        options = (sql.SQL(" WITH ({})").format(sql.SQL(", ").join(sql.SQL(o) for o in view.options))
                   if view.options else sql.SQL(""))
        definition = sql.SQL(view.definition.rstrip().rstrip(";"))
        statements.append(sql.SQL("CREATE VIEW {}{} AS {}").format(target, options, definition))
        statements.extend(grant_statements("TABLE", target, view.grants, view.owner))
        statements.append(sql.SQL("ALTER VIEW {} OWNER TO {}").format(target, sql.Identifier(view.owner)))
        if view.comment is not None:
            statements.append(sql.SQL("COMMENT ON VIEW {} IS {}").format(target, sql.Literal(view.comment)))
    # A key that was NOT VALID on the original stays so: validating it could fail on rows it never checked.
    pending = [(schema, original.name, fk.name) for fk in original.outgoing_fks if fk.validated]
    for fk in original.incoming_fks:
        statements.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
            _relation(fk.schema, fk.relname), sql.Identifier(fk.name), sql.SQL(fk.definition)))
        if fk.validated:
            pending.append((fk.schema, fk.relname, fk.name))
    return statements, pending


def validate_statement(schema: str, table: str, constraint: str) -> sql.Composable:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
        _relation(schema, table), sql.Identifier(constraint))

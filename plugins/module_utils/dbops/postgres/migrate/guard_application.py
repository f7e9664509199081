"""Applying the destructive guard to a part: the database's column types for the checks, refuse or warn."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DestructiveChangeRefused
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.destructive_guard import (
    ColumnLookup,
    ColumnType,
    canonical_type,
    find_destructive,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import Statement


def column_lookup(conn: Any) -> ColumnLookup:
    """The current type of a column in the database (for type changes that would lose data)."""

    def column_type(schema: str | None, table: str, column: str) -> ColumnType | None:
        row = conn.execute(
            "SELECT t.typname, a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE c.relname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "AND (n.nspname = %s OR (%s::text IS NULL AND pg_table_is_visible(c.oid))) LIMIT 1",
            (table, column, schema, schema)).fetchone()
        if row is None:
            return None
        typname, typmod = row
        mods: tuple[int, ...] = ()
        if typmod >= 4 and typname in ("varchar", "bpchar"):
            mods = (typmod - 4,)
        elif typmod >= 4 and typname == "numeric":
            mods = (((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
        return canonical_type(typname, mods)

    return column_type


def guard_apply(conn: Any, mset: MigrationSet, statements: list[Statement], opts: RunOptions) -> None:
    """Refuse a destructive up unless allow_destructive; when allowed, say what it destroys."""
    notes: list[str] = []
    findings = [f"{f.what} (statement {f.statement.index}, line {f.statement.line})"
                for f in find_destructive(statements, column_lookup(conn), notes)]
    path = part_path(mset, "up")
    opts.warnings.extend(f"{mset.version} ({path}): {note}" for note in notes)
    if mset.manifest.destructive:
        findings.append("migration.yml declares destructive: true")
    if not findings:
        return
    if not opts.allow_destructive:
        raise DestructiveChangeRefused(
            "destructive change refused (allow_destructive is off): " + "; ".join(findings),
            version=mset.version, path=path)
    opts.warnings.append(f"{mset.version} ({path}): destructive change allowed: " + "; ".join(findings))


def warn_destructive_rollback(mset: MigrationSet, statements: list[Statement], opts: RunOptions) -> None:
    """A down that destroys data is what a rollback is for: a warning, never a refusal."""
    findings = find_destructive(statements, None, [])
    if findings:
        opts.warnings.append(f"{mset.version} ({part_path(mset, 'down')}): the rollback destroys data: "
                             + "; ".join(f.what for f in findings))

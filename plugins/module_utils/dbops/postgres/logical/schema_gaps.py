"""What a subscriber lacks of its publisher's published tables: whole tables, or columns.

DDL is not replicated. A subscriber may have MORE columns than its publisher (an expand set applied to green adds
nullable columns: the forward flow fills the others), but never fewer: the apply worker stops at the first row of
a table it lacks, or with a column it lacks ("missing replicated column"), and retries forever. For the reverse
flow (green -> blue after the switch), where an expand set added tables and columns to green alone,
shared_publication() publishes what both sides have: the tables both have, with a column list (PostgreSQL 15)
where the subscriber lacks columns. A write to a table or column only green has stays on green, which the old
application that a fallback brings back does not read; everything it can read flows back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import (
    ColumnLists,
    Table,
    published_tables,
)

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
   AND (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
 ORDER BY n.nspname, c.relname, a.attnum"""
# The columns an UPDATE or DELETE is identified by: the replica identity index's (or the primary key's); every
# column with REPLICA IDENTITY FULL.
_IDENTITY = """
SELECT n.nspname, c.relname, c.relreplident, a.attname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_index i ON i.indrelid = c.oid
       AND ((c.relreplident = 'i' AND i.indisreplident) OR (c.relreplident = 'd' AND i.indisprimary))
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
 WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"""


class FlowNotPossible(DbopsError):
    """No flow publisher -> subscriber can carry the publisher's updates and deletes (an identity column is
    missing on the subscriber)."""


@dataclass
class SharedPublication:
    """What a flow publishes when the subscriber has fewer tables or columns than the publisher."""

    tables: list[Table]
    columns: ColumnLists = field(default_factory=dict)  # only for tables the subscriber has fewer columns of
    left_out: list[str] = field(default_factory=list)  # what does not flow, one line each


def _ordered_columns(conn: Any, tables: list[Table]) -> dict[Table, list[str]]:
    found: dict[Table, list[str]] = {}
    rows = conn.execute(_COLUMNS, ([item[0] for item in tables], [item[1] for item in tables])).fetchall()
    for schema, table, column in rows:
        found.setdefault((schema, table), []).append(column)
    return found


def _columns(conn: Any, tables: list[Table]) -> dict[Table, set[str]]:
    return {table: set(columns) for table, columns in _ordered_columns(conn, tables).items()}


def _identity_columns(conn: Any, tables: list[Table]) -> dict[Table, set[str] | None]:
    """Per table its identity columns; None for REPLICA IDENTITY FULL (every column)."""
    found: dict[Table, set[str] | None] = {}
    rows = conn.execute(_IDENTITY, ([item[0] for item in tables], [item[1] for item in tables])).fetchall()
    for schema, table, identity, column in rows:
        if identity == "f":
            found[(schema, table)] = None
            continue
        columns = found.setdefault((schema, table), set())
        if columns is not None and column is not None:
            columns.add(column)
    return found


def shared_publication(publisher: Any, subscriber: Any) -> SharedPublication:
    """The tables and columns a flow publisher -> subscriber can carry: the publisher's published tables that the
    subscriber has, each with the columns both have. FlowNotPossible when a table's identity columns are not all on
    the subscriber (the publisher would then refuse the application's UPDATEs and DELETEs of that table)."""
    tables = published_tables(publisher)
    theirs = _ordered_columns(publisher, tables)
    ours = _columns(subscriber, tables)
    identity = _identity_columns(publisher, tables)
    shared = SharedPublication(tables=[])
    for table in tables:
        if table not in theirs:  # not on the publisher either (the fence table before the set-up): not published
            continue
        name = f"{table[0]}.{table[1]}"
        if table not in ours:
            shared.left_out.append(f"table {name} (the subscriber does not have it)")
            continue
        shared.tables.append(table)
        common = [column for column in theirs[table] if column in ours[table]]
        if len(common) == len(theirs[table]):
            continue
        keys = identity.get(table)
        if keys is None or not keys <= set(common):
            raise FlowNotPossible(
                f"table {name}: the subscriber lacks identity column(s) "
                f"{', '.join(sorted(set(theirs[table]) - set(common)))}, so updates and deletes of {name} cannot "
                "flow to it")
        shared.columns[table] = common
        missing = ", ".join(column for column in theirs[table] if column not in ours[table])
        shared.left_out.append(f"column(s) {missing} of {name} (the subscriber does not have them)")
    return shared


def missing_tables(publisher: Any, subscriber: Any) -> list[Table]:
    """The publisher's published tables that the subscriber does not have."""
    tables = published_tables(publisher)
    present = _columns(subscriber, tables)
    return [table for table in tables if table not in present]


def schema_gaps(publisher: Any, subscriber: Any) -> list[str]:
    """One line per table or column of the publisher's published tables that the subscriber lacks; empty when a
    flow publisher -> subscriber can apply every row."""
    tables = published_tables(publisher)
    theirs = _columns(publisher, tables)
    ours = _columns(subscriber, tables)
    gaps: list[str] = []
    for table in tables:
        if table not in theirs:  # not on the publisher either (the fence table before the set-up): not published
            continue
        name = f"{table[0]}.{table[1]}"
        if table not in ours:
            gaps.append(f"table {name} is missing")
            continue
        missing = sorted(theirs[table] - ours[table])
        if missing:
            gaps.append(f"table {name} lacks column(s) {', '.join(missing)}")
    return gaps

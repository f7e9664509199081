"""Finding statements that destroy data: DROP TABLE/SCHEMA/DATABASE, DROP COLUMN, TRUNCATE, DELETE without WHERE
and type changes that can lose data (narrowing).

Whether a type change narrows depends on the column's current type, so the caller passes a lookup into the
catalog; a column the catalog does not know yet (created by a pending set) cannot hold data worth guarding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
    Statement,
    strip_comments,
)


@dataclass(frozen=True)
class ColumnType:
    """A type as (canonical name, modifiers): ("varchar", (50,)), ("numeric", (12, 2)), ("int8", ())."""

    name: str
    mods: tuple[int, ...] = ()

    def __str__(self) -> str:
        return self.name + (f"({','.join(map(str, self.mods))})" if self.mods else "")


@dataclass(frozen=True)
class Finding:
    statement: Statement
    what: str  # e.g. "DROP TABLE content.old_courses"


# (schema or None, table, column) -> the column's current type, or None when it does not exist.
ColumnLookup = Callable[[Optional[str], str, str], Optional[ColumnType]]  # Optional: importable on Python 3.9

_ALIASES = {
    "smallint": "int2", "int2": "int2", "integer": "int4", "int": "int4", "int4": "int4", "bigint": "int8",
    "int8": "int8", "real": "float4", "float4": "float4", "double precision": "float8", "float8": "float8",
    "numeric": "numeric", "decimal": "numeric", "varchar": "varchar", "character varying": "varchar",
    "bpchar": "bpchar", "char": "bpchar", "character": "bpchar", "text": "text", "date": "date",
    "timestamp": "timestamp", "timestamp without time zone": "timestamp", "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz", "time": "time", "timetz": "timetz", "boolean": "bool",
    "bool": "bool", "jsonb": "jsonb", "json": "json", "uuid": "uuid", "bytea": "bytea", "serial": "int4",
    "bigserial": "int8", "smallserial": "int2",
}
_INT_RANK = {"int2": 1, "int4": 2, "int8": 3}
_INT_DIGITS = {"int2": 5, "int4": 10, "int8": 19}
_STRINGS = {"varchar", "bpchar", "text"}


def canonical_type(name: str, mods: tuple[int, ...] = ()) -> ColumnType:
    key = " ".join(name.lower().replace('"', "").split())
    if key.startswith("pg_catalog."):
        key = key[len("pg_catalog."):]
    return ColumnType(_ALIASES.get(key, key), tuple(mods))


def is_widening(old: ColumnType, new: ColumnType) -> bool:
    """True when every value of old fits new without loss (the safe direction of a type change)."""
    if old == new or new.name == "text":
        return True
    if old.name in _INT_RANK and new.name in _INT_RANK:
        return _INT_RANK[new.name] >= _INT_RANK[old.name]
    if old.name in _INT_RANK and new.name == "numeric":
        return not new.mods or (new.mods[0] - (new.mods[1] if len(new.mods) > 1 else 0)) >= _INT_DIGITS[old.name]
    if old.name == "float4" and new.name == "float8":
        return True
    if old.name == "numeric" and new.name == "numeric":
        if not new.mods:
            return True
        if not old.mods:
            return False
        old_p, old_s = old.mods[0], old.mods[1] if len(old.mods) > 1 else 0
        new_p, new_s = new.mods[0], new.mods[1] if len(new.mods) > 1 else 0
        return new_s >= old_s and new_p - new_s >= old_p - old_s
    if old.name in _STRINGS and new.name in ("varchar", "bpchar"):
        if old.name == "text" or (old.name == "varchar" and not old.mods):
            return new.name == "varchar" and not new.mods
        if new.name == "bpchar" and old.name == "varchar":
            return False  # bpchar pads and trims trailing blanks
        return not new.mods or (bool(old.mods) and new.mods[0] >= old.mods[0])
    if old.name == "date" and new.name in ("timestamp", "timestamptz"):
        return True
    if old.name == "timestamp" and new.name == "timestamptz":
        return True
    return old.name == "json" and new.name == "jsonb"


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _range_var(node: dict) -> tuple[str | None, str]:
    node = node.get("RangeVar", node)
    return node.get("schemaname"), node.get("relname", "?")


def _type_from_node(type_name: dict) -> ColumnType:
    names = [n["String"]["sval"] for n in type_name.get("names", ()) if "String" in n]
    mods = []
    for mod in type_name.get("typmods", ()):
        ival = mod.get("A_Const", {}).get("ival")
        if isinstance(ival, dict):
            mods.append(ival.get("ival", 0))  # libpg_query's JSON leaves a 0 out
    return canonical_type(".".join(names), tuple(mods))


def _object_name(obj: dict) -> str:
    items = obj["List"]["items"] if "List" in obj else [obj]
    return ".".join(item.get("String", {}).get("sval", "?") for item in items)


def _node_findings(stmt: Statement, lookup: ColumnLookup | None, warnings: list[str]) -> list[Finding]:
    kind, node = stmt.node_type, stmt.node_body
    found = []
    if kind == "DropStmt":
        label = {"OBJECT_TABLE": "DROP TABLE", "OBJECT_SCHEMA": "DROP SCHEMA"}.get(node.get("removeType", ""))
        if label:
            names = ", ".join(_object_name(obj) for obj in node.get("objects", ()))
            found.append(Finding(stmt, f"{label} {names}"))
    elif kind == "DropdbStmt":
        found.append(Finding(stmt, f"DROP DATABASE {node.get('dbname')}"))
    elif kind == "TruncateStmt":
        names = ", ".join(_qualified(*_range_var(r)) for r in node.get("relations", ()))
        found.append(Finding(stmt, f"TRUNCATE {names}"))
    elif kind == "DeleteStmt" and "whereClause" not in node:
        found.append(Finding(stmt, f"DELETE without WHERE from {_qualified(*_range_var(node['relation']))}"))
    elif kind == "AlterTableStmt":
        schema, table = _range_var(node.get("relation", {}))
        for item in node.get("cmds", ()):
            cmd = item.get("AlterTableCmd", {})
            subtype = cmd.get("subtype")
            if subtype == "AT_DropColumn":
                found.append(Finding(stmt, f"DROP COLUMN {_qualified(schema, table)}.{cmd.get('name')}"))
            elif subtype == "AT_AlterColumnType":
                type_name = cmd.get("def", {}).get("ColumnDef", {}).get("typeName")
                if type_name is None:
                    continue
                finding = _type_change(stmt, schema, table, cmd.get("name"), _type_from_node(type_name), lookup,
                                       warnings)
                if finding:
                    found.append(finding)
    return found


def _type_change(stmt: Statement, schema: str | None, table: str, column: str, new: ColumnType,
                 lookup: ColumnLookup | None, warnings: list[str]) -> Finding | None:
    old = lookup(schema, table, column) if lookup else None
    where = f"{_qualified(schema, table)}.{column}"
    if old is None:
        if lookup is None:
            return Finding(stmt, f"type change of {where} to {new} (current type unknown)")
        warnings.append(f"type change of {where} to {new}: the column does not exist yet, not checked for narrowing")
        return None
    if is_widening(old, new):
        return None
    return Finding(stmt, f"narrowing type change of {where} from {old} to {new}")


_FALLBACK = [
    (re.compile(r"^DROP\s+TABLE\b(?:\s+IF\s+EXISTS)?\s+([^\s;]+)", re.I), "DROP TABLE"),
    (re.compile(r"^DROP\s+SCHEMA\b(?:\s+IF\s+EXISTS)?\s+([^\s;]+)", re.I), "DROP SCHEMA"),
    (re.compile(r"^DROP\s+DATABASE\b(?:\s+IF\s+EXISTS)?\s+([^\s;]+)", re.I), "DROP DATABASE"),
    (re.compile(r"^TRUNCATE\b(?:\s+TABLE)?\s+([^\s;]+)", re.I), "TRUNCATE"),
]
_FALLBACK_DROP_COLUMN = re.compile(r"^ALTER\s+TABLE\b.*\bDROP\s+(?:COLUMN\s+)?(?!CONSTRAINT\b)(?:IF\s+EXISTS\s+)?"
                                   r"([^\s,;]+)", re.I)
_FALLBACK_TYPE = re.compile(r"^ALTER\s+TABLE\b.*\bALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET\s+DATA\s+)?TYPE\b", re.I)
_FALLBACK_DELETE = re.compile(r"^DELETE\s+FROM\s+([^\s;]+)\s*(?:;|$)", re.I)


def _text_findings(stmt: Statement) -> list[Finding]:
    text = strip_comments(stmt.sql)
    for pattern, label in _FALLBACK:
        match = pattern.match(text)
        if match:
            return [Finding(stmt, f"{label} {match.group(1)}")]
    match = _FALLBACK_DROP_COLUMN.match(text)
    if match:
        return [Finding(stmt, f"DROP COLUMN {match.group(1)}")]
    if _FALLBACK_TYPE.match(text):
        # Without the parser the new type cannot be read reliably: refuse, the user can allow it.
        return [Finding(stmt, "column type change (not parsed; could narrow)")]
    match = _FALLBACK_DELETE.match(text)
    if match:
        return [Finding(stmt, f"DELETE without WHERE from {match.group(1)}")]
    return []


def find_destructive(statements: list[Statement], lookup: ColumnLookup | None = None,
                     warnings: list[str] | None = None) -> list[Finding]:
    """Destructive statements among `statements`; notes that do not refuse go to `warnings`."""
    notes: list[str] = warnings if warnings is not None else []
    findings = []
    for stmt in statements:
        if stmt.node is not None:
            findings.extend(_node_findings(stmt, lookup, notes))
        else:
            findings.extend(_text_findings(stmt))
    return findings

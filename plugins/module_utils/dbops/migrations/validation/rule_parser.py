"""Parsing of migration.yml's `validate:` list: each problem is one MigrationFormatError naming the file and the
rule (validate[i]), raised at discovery, so a malformed rule never stops a run halfway.

A rule is a mapping with exactly one kind key and optional phase, name, batch_size, statement_timeout and
lock_timeout:

    - row_count: {table: content.courses, expected_change: 0, tolerance: "1%"}
      phase: post
    - no_orphans: {table: lessons, column: course_id, references: {table: courses, column: id}}
    - unique: {collection: users, fields: [email]}
    - matches: {postgres: {table: courses, key: id, column: title},
                mongodb: {collection: courses, key: pg_id, field: title}}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    KINDS,
    MONGODB,
    PHASES,
    POST,
    POSTGRES,
    Field,
    Paging,
    Target,
    ValidationRule,
)

COMMON_KEYS = {"phase", "name", "batch_size", "statement_timeout", "lock_timeout"}
MAX_BATCH_SIZE = 100_000
MAX_SAMPLE = 10_000_000
MAX_DURATION_MS = 2_147_483_647
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min)?\s*$", re.ASCII)
_UNIT_MS = {None: 1, "ms": 1, "s": 1000, "min": 60_000}
_TABLE = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?$')
_COLUMN = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)$')
_COLLECTION = re.compile(r"^[^$\x00][^\x00]{0,254}$")
_FIELD = re.compile(r"^[^$\x00.][^\x00]*$")
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


class _Refusal(Exception):
    """A problem inside one rule; parse_rules turns it into a MigrationFormatError naming the rule."""


def parse_rules(value: Any, path: Path | None) -> tuple[ValidationRule, ...]:
    """The validate: list of a migration.yml, checked; raises MigrationFormatError naming file and rule."""
    if not isinstance(value, list):
        raise MigrationFormatError("validate must be a list of rules (or the older mapping postgres:/mongodb:)",
                                   path=path)
    rules = []
    for index, item in enumerate(value):
        try:
            rules.append(_rule(item, index))
        except _Refusal as exc:
            raise MigrationFormatError(f"validate[{index}]: {exc}", path=path) from None
    return tuple(rules)


def _rule(item: Any, index: int) -> ValidationRule:
    if not isinstance(item, dict):
        raise _Refusal(f"a rule must be a mapping with one of {', '.join(KINDS)}")
    kinds = [k for k in item if k in KINDS]
    unknown = sorted(str(k) for k in item if k not in KINDS and k not in COMMON_KEYS)
    if unknown:
        raise _Refusal(f"unknown key(s) {', '.join(unknown)}; a rule has one of {', '.join(KINDS)} and "
                       f"optionally {', '.join(sorted(COMMON_KEYS))}")
    if len(kinds) != 1:
        raise _Refusal(f"a rule names exactly one kind ({', '.join(KINDS)}), not {len(kinds)}")
    kind = kinds[0]
    phase = item.get("phase", POST)
    if phase not in PHASES:
        raise _Refusal(f"phase must be pre or post, not {phase!r}")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise _Refusal("name must be a string")
    common = {"index": index, "kind": kind, "phase": phase, "paging": _paging(item), "name": name.strip()}
    return _BUILDERS[kind](item[kind], common)


# ---- common pieces -------------------------------------------------------------------------------------------------

def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Refusal(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _duration(value: Any, what: str) -> int:
    millis = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and (match := _DURATION.match(value)):
        millis = int(float(match.group(1)) * _UNIT_MS[match.group(2)])
    if millis is None or not 1 <= millis <= MAX_DURATION_MS:
        raise _Refusal(f"{what} must be a duration such as 30s or 500ms, not {value!r}")
    return millis


def _paging(item: dict) -> Paging:
    return Paging(
        batch_size=_whole(item.get("batch_size", DEFAULT_BATCH_SIZE), "batch_size", 1, MAX_BATCH_SIZE),
        statement_timeout_ms=_duration(item.get("statement_timeout", DEFAULT_STATEMENT_TIMEOUT_MS),
                                       "statement_timeout"),
        lock_timeout_ms=_duration(item.get("lock_timeout", DEFAULT_LOCK_TIMEOUT_MS), "lock_timeout"),
    )


def _spec(value: Any, kind: str, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _Refusal(f"{kind} must be a mapping")
    unknown = sorted(str(k) for k in set(value) - allowed)
    if unknown:
        raise _Refusal(f"{kind}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return value


def _names(value: Any, what: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and pattern.match(v.strip())
                                                           for v in items):
        raise _Refusal(f"{what} must be a name or a list of names, not {value!r}")
    return tuple(v.strip() for v in items)


def _target(spec: dict, kind: str) -> Target:
    """table: (with optional key:) or collection:, exactly one."""
    if ("table" in spec) == ("collection" in spec):
        raise _Refusal(f"{kind} needs exactly one of table: or collection:")
    if "table" in spec:
        table = spec["table"]
        if not isinstance(table, str) or not _TABLE.match(table.strip()):
            raise _Refusal(f"{kind}.table must be a table name such as content.courses, not {table!r}")
        key = _names(spec["key"], f"{kind}.key", _COLUMN) if spec.get("key") is not None else ()
        return Target(POSTGRES, table.strip(), key)
    collection = spec["collection"]
    if not isinstance(collection, str) or not _COLLECTION.match(collection.strip()):
        raise _Refusal(f"{kind}.collection must be a collection name, not {collection!r}")
    if spec.get("key") not in (None, "_id"):
        raise _Refusal(f"{kind}.key: a collection is always paged by _id")
    return Target(MONGODB, collection.strip(), ("_id",))


def _one_field(spec: dict, target: Target, kind: str) -> str:
    """column: for a table, field: for a collection."""
    word = "column" if target.database == POSTGRES else "field"
    other = "field" if word == "column" else "column"
    if other in spec:
        raise _Refusal(f"{kind}: a {target.database} {'table' if word == 'column' else 'collection'} has "
                       f"{word}:, not {other}:")
    if word not in spec:
        raise _Refusal(f"{kind}: '{word}' is required")
    return _names(spec[word], f"{kind}.{word}", _COLUMN if word == "column" else _FIELD)[0]


def _many_fields(spec: dict, target: Target, kind: str) -> tuple[str, ...]:
    words = ("columns", "column") if target.database == POSTGRES else ("fields", "field")
    given = [w for w in words if w in spec]
    if len(given) != 1:
        raise _Refusal(f"{kind} needs {words[0]}: (a list) or {words[1]}:")
    pattern = _COLUMN if target.database == POSTGRES else _FIELD
    return _names(spec[given[0]], f"{kind}.{given[0]}", pattern)


TARGET_KEYS = {"table", "collection", "key"}


# ---- one builder per kind -------------------------------------------------------------------------------------------

def _row_count(value: Any, common: dict) -> ValidationRule:
    spec = _spec(value, "row_count", TARGET_KEYS | {"expected_change", "tolerance", "min", "max"})
    change = spec.get("expected_change", 0)
    if isinstance(change, bool) or not isinstance(change, int):
        raise _Refusal(f"row_count.expected_change must be a whole number (e.g. 0, 25, -3), not {change!r}")
    tolerance, tolerance_pct = 0, None
    raw = spec.get("tolerance", 0)
    if isinstance(raw, str) and (match := _PERCENT.match(raw)):
        tolerance_pct = float(match.group(1))
    else:
        tolerance = _whole(raw, "row_count.tolerance (a number of rows, or a percentage such as '1%')", 0,
                           2**62)
    bounds = {k: _whole(spec[k], f"row_count.{k}", 0, 2**62) for k in ("min", "max") if spec.get(k) is not None}
    if common["phase"] != POST and not bounds:
        raise _Refusal("a pre row_count rule has no after figure to compare: give min: and/or max:")
    return ValidationRule(**common, target=_target(spec, "row_count"), expected_change=change, tolerance=tolerance,
                          tolerance_pct=tolerance_pct, minimum=bounds.get("min"), maximum=bounds.get("max"))


def _no_orphans(value: Any, common: dict) -> ValidationRule:
    spec = _spec(value, "no_orphans", TARGET_KEYS | {"column", "field", "references"})
    target = _target(spec, "no_orphans")
    source = Field(target, _one_field(spec, target, "no_orphans"))
    refs = _spec(spec.get("references"), "no_orphans.references", {"table", "collection", "column", "field"})
    ref_target = _target(refs, "no_orphans.references")
    reference = Field(ref_target, _one_field(refs, ref_target, "no_orphans.references"))
    return ValidationRule(**common, target=target, source=source, reference=reference)


def _fields_rule(kind: str) -> Callable[[Any, dict], ValidationRule]:
    def build(value: Any, common: dict) -> ValidationRule:
        spec = _spec(value, kind, TARGET_KEYS | {"columns", "column", "fields", "field"})
        target = _target(spec, kind)
        return ValidationRule(**common, target=target, fields=_many_fields(spec, target, kind))
    return build


def _json_schema(value: Any, common: dict) -> ValidationRule:
    spec = _spec(value, "json_schema", {"collection", "schema", "sample"})
    if "collection" not in spec:
        raise _Refusal("json_schema checks a collection: 'collection' is required")
    target = _target(spec, "json_schema")
    schema = spec.get("schema")
    if isinstance(schema, dict) and set(schema) == {"$jsonSchema"}:
        schema = schema["$jsonSchema"]
    if not isinstance(schema, dict) or not schema:
        raise _Refusal("json_schema.schema must be a $jsonSchema mapping (e.g. {required: [email]})")
    sample = None if spec.get("sample") is None else _whole(spec["sample"], "json_schema.sample", 1, MAX_SAMPLE)
    return ValidationRule(**common, target=target, schema=dict(schema), sample=sample)


def _side(spec: Any, database: str) -> Field:
    word = "table" if database == POSTGRES else "collection"
    column = "column" if database == POSTGRES else "field"
    side = _spec(spec, f"matches.{database}", {word, "key", column})
    for required in (word, "key", column):
        if required not in side:
            raise _Refusal(f"matches.{database}: '{required}' is required")
    if database == POSTGRES:
        target = _target({"table": side["table"], "key": side["key"]}, "matches.postgres")
        if len(target.key) != 1:
            raise _Refusal("matches.postgres.key must be one column (the key both databases share)")
    else:
        key = _names(side["key"], "matches.mongodb.key", _FIELD)[0]
        target = Target(MONGODB, _target({"collection": side["collection"]}, "matches.mongodb").name, (key,))
    return Field(target, _one_field(side, target, f"matches.{database}"))


def _matches(value: Any, common: dict) -> ValidationRule:
    spec = _spec(value, "matches", {POSTGRES, MONGODB})
    if set(spec) != {POSTGRES, MONGODB}:
        raise _Refusal("matches compares a PostgreSQL column with a MongoDB field: give postgres: and mongodb:")
    return ValidationRule(**common, source=_side(spec[POSTGRES], POSTGRES), reference=_side(spec[MONGODB], MONGODB))


def _sql(value: Any, common: dict) -> ValidationRule:
    query = value.get("query") if isinstance(value, dict) and set(value) == {"query"} else value
    if not isinstance(query, str) or not query.strip().rstrip(";").strip():
        raise _Refusal("sql must be a query (a string) that returns no rows when the data is right")
    return ValidationRule(**common, target=Target(POSTGRES, "(sql)"), query=query.strip().rstrip(";").strip())


def _mongodb(value: Any, common: dict) -> ValidationRule:
    spec = _spec(value, "mongodb", {"collection", "filter"})
    if "collection" not in spec or not isinstance(spec.get("filter"), dict):
        raise _Refusal("mongodb needs collection: and filter: (a filter that must match no documents)")
    return ValidationRule(**common, target=_target({"collection": spec["collection"]}, "mongodb"),
                          filter=dict(spec["filter"]))


_BUILDERS: dict[str, Callable[[Any, dict], ValidationRule]] = {
    "row_count": _row_count,
    "no_orphans": _no_orphans,
    "unique": _fields_rule("unique"),
    "not_null": _fields_rule("not_null"),
    "json_schema": _json_schema,
    "matches": _matches,
    "sql": _sql,
    "mongodb": _mongodb,
}

"""mongodb.yml: the declarative MongoDB part of a set, parsed and checked before anything runs.

    description: optional text
    settings: {batch_size: 1000, pause_ms: 0}      # for the batched operations (run's batch_size overrides)
    operations:                                    # applied in order; undone in reverse order
      - create_index: {collection: courses, keys: {a: 1}, name: a_1, options: {unique: true}}
      - add_field: {collection: users, field: preferences, default: {theme: light}}
      ...
    validate:                                      # checks run after the set is applied (validation_checks.py)
      - {collection: users, filter: {preferences: {$exists: false}}, count: 0}

A malformed file is a MigrationFormatError naming the file and the operation (1-based) at fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # guarded: ansible-test's import sanity test loads module_utils without PyYAML
    import yaml
except ImportError:  # pragma: no cover
    yaml = None  # type: ignore[assignment]

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.arrays import SplitArray
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.base import (
    Operation,
    Spec,
    SpecError,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.collection_ops import (
    CreateCollection,
    DropCollection,
    RenameCollection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.fields import (
    AddField,
    RenameField,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.indexes import (
    CreateIndex,
    DropIndex,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.updates import UpdateMany
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.validators import (
    SetValidator,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.validation_checks import (
    Check,
    parse_checks,
)

OPERATIONS: dict[str, type[Operation]] = {cls.kind: cls for cls in (
    CreateIndex, DropIndex, AddField, RenameField, SetValidator, CreateCollection, RenameCollection, DropCollection,
    UpdateMany, SplitArray)}

_Loader = None if yaml is None else getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Settings:
    batch_size: int = 1000
    pause_ms: int = 0


@dataclass
class YamlPart:
    path: Path
    description: str = ""
    settings: Settings = field(default_factory=Settings)
    operations: list[Operation] = field(default_factory=list)
    raw_operations: list[tuple[str, Any]] = field(default_factory=list)  # (kind, args) as written: for the ledger
    checks: list[Check] = field(default_factory=list)


def to_bson_friendly(value: Any) -> Any:
    """YAML dates (datetime.date) become midnight UTC datetimes: BSON has no date-only type."""
    if isinstance(value, dict):
        return {str(k): to_bson_friendly(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_bson_friendly(v) for v in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


def build_operation(kind: str, args: Any) -> Operation:
    cls = OPERATIONS.get(kind)
    if cls is None:
        raise SpecError(f"unknown operation {kind!r} (known: {', '.join(sorted(OPERATIONS))})")
    return cls.parse(args)


def _settings(raw: Any) -> Settings:
    spec = Spec(raw or {}, "settings")
    batch = spec.any("batch_size", required=False, default=1000)
    pause = spec.any("pause_ms", required=False, default=0)
    spec.done()
    for key, value, low in (("batch_size", batch, 1), ("pause_ms", pause, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise SpecError(f"settings.{key} must be an integer >= {low}")
    return Settings(batch, pause)


def parse_yaml_part(source: str, path: Path, version: str | None) -> YamlPart:
    if yaml is None:
        raise MigrationFormatError("reading mongodb.yml needs the Python package PyYAML", version=version, path=path)
    try:
        data = yaml.load(source, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise MigrationFormatError(f"YAML syntax error{where}: {getattr(exc, 'problem', None) or exc}",
                                   version=version, path=path) from exc
    if not isinstance(data, dict):
        raise MigrationFormatError("mongodb.yml must be a mapping with an 'operations' list", version=version,
                                   path=path)
    data = to_bson_friendly(data)
    unknown = sorted(set(data) - {"description", "settings", "operations", "validate"})
    if unknown:
        raise MigrationFormatError(f"unknown top-level key(s) {', '.join(unknown)} (expected description, settings, "
                                   "operations, validate)", version=version, path=path)
    part = YamlPart(path=path, description=str(data.get("description") or "").strip())
    try:
        part.settings = _settings(data.get("settings"))
        part.checks = parse_checks(data.get("validate"))
    except SpecError as exc:
        raise MigrationFormatError(str(exc), version=version, path=path) from exc
    ops = data.get("operations")
    if not isinstance(ops, list) or not ops:
        raise MigrationFormatError("'operations' must be a non-empty list", version=version, path=path)
    for i, item in enumerate(ops):
        kind = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None
        try:
            if kind is None:
                raise SpecError("each operation is a mapping with exactly one key, the operation's name "
                                "(e.g. '- create_index: {collection: ..., keys: ...}')")
            part.operations.append(build_operation(kind, item[kind]))
        except SpecError as exc:
            label = f"operation {i + 1}" + (f" ({kind})" if kind else "")
            raise MigrationFormatError(f"{label}: {exc}", version=version, path=path) from exc
        part.raw_operations.append((kind, item[kind]))
    return part

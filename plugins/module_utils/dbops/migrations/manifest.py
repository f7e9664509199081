"""Parsing and validation of migration.yml: every problem is one error naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import (
    PHASES,
    TRANSACTION_MODES,
    Backfill,
    Manifest,
    PostgresOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.online_change_manifest import (
    parse_online_changes,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.source_text import read_source
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rule_parser import parse_rules
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.yaml_text import parse_yaml

TOP_KEYS = {"description", "depends_on", "phase", "destructive", "postgres", "backfill", "online_change", "validate"}
POSTGRES_KEYS = {"transaction", "lock_timeout", "statement_timeout"}
BACKFILL_KEYS = {"name", "table", "key", "set", "where", "batch_size", "batch_time", "pause_ms", "pause_ratio",
                 "max_replica_lag"}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min|h)?\s*$", re.ASCII)
# PostgreSQL keeps lock_timeout and statement_timeout in a 32-bit integer of milliseconds.
MAX_DURATION_MS = 2_147_483_647
MAX_BATCH_SIZE = 10_000_000
MAX_PAUSE_MS = 3_600_000
MAX_BATCH_TIME_MS = 60_000
MAX_PAUSE_RATIO = 100
_UNIT_MS = {None: 1, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
_IDENT_PATH = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?$')
_COLUMN = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)$')


def parse_duration_ms(value: Any, *, what: str, path: Path) -> int:
    """500 (ms), "500ms", "2s", "1min", "1h" -> milliseconds, from 0 to MAX_DURATION_MS."""
    millis = None
    if isinstance(value, int) and not isinstance(value, bool):
        millis = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            millis = int(float(match.group(1)) * _UNIT_MS[match.group(2)])
    if millis is None:  # .inf and .nan are YAML floats: refused here, like any other non-duration
        raise MigrationFormatError(f"{what} must be a duration such as 2s or 500ms, not {value!r}", path=path)
    if not 0 <= millis <= MAX_DURATION_MS:
        raise MigrationFormatError(f"{what} must be from 0 to {MAX_DURATION_MS} ms (about 24 days), not {value!r}",
                                   path=path)
    return millis


def _version_list(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise MigrationFormatError("depends_on must be a list of versions", path=path)
    versions = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            # YAML reads 2024.010 as the float 2024.01 and 001 as 1: only quoted strings keep the version as written.
            raise MigrationFormatError(
                f"depends_on entry {item!r} must be a quoted string (e.g. '2024.010'), so YAML keeps it as written",
                path=path,
            )
        versions.append(item.strip())
    return tuple(versions)


def _positive_int(value: Any, what: str, path: Path, *, high: int, allow_zero: bool = False) -> int:
    low, kind = (0, "non-negative") if allow_zero else (1, "positive")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MigrationFormatError(f"{what} must be a {kind} whole number up to {high}, not {value!r}", path=path)
    return value


def _backfill(item: Any, index: int, path: Path) -> Backfill:
    where = f"backfill[{index}]"
    if not isinstance(item, dict):
        raise MigrationFormatError(f"{where} must be a mapping with table, key and set", path=path)
    unknown = set(item) - BACKFILL_KEYS
    if unknown:
        raise MigrationFormatError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}", path=path)
    for required in ("table", "key", "set"):
        if required not in item:
            raise MigrationFormatError(f"{where}: '{required}' is required", path=path)
    table = item["table"]
    if not isinstance(table, str) or not _IDENT_PATH.match(table.strip()):
        raise MigrationFormatError(f"{where}.table must be a table name such as content.courses", path=path)
    key = item["key"]
    keys = [key] if isinstance(key, str) else key
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and _COLUMN.match(k.strip()) for k in keys):
        raise MigrationFormatError(f"{where}.key must be a column name or a list of column names", path=path)
    set_sql = item["set"]
    if not isinstance(set_sql, str) or not set_sql.strip():
        raise MigrationFormatError(f"{where}.set must be an SQL SET list such as \"total = a + b\"", path=path)
    where_sql = item.get("where")
    if where_sql is not None and (not isinstance(where_sql, str) or not where_sql.strip()):
        raise MigrationFormatError(f"{where}.where must be an SQL condition", path=path)
    name = item.get("name", table.strip())
    if not isinstance(name, str) or not name.strip():
        raise MigrationFormatError(f"{where}.name must be a string", path=path)
    return Backfill(
        name=name.strip(),
        table=table.strip(),
        key=tuple(k.strip() for k in keys),
        set=set_sql.strip(),
        where=where_sql.strip() if where_sql else None,
        batch_size=None if item.get("batch_size") is None else _positive_int(
            item["batch_size"], f"{where}.batch_size", path, high=MAX_BATCH_SIZE),
        pause_ms=_positive_int(item.get("pause_ms", 0), f"{where}.pause_ms", path, high=MAX_PAUSE_MS,
                               allow_zero=True),
        **_backfill_pacing(item, where, path),
    )


def _backfill_pacing(item: dict, where: str, path: Path) -> dict[str, Any]:
    """batch_time, pause_ratio and max_replica_lag of a backfill; absent keys stay None (the engine's defaults)."""
    pacing: dict[str, Any] = {}
    if item.get("batch_time") is not None:
        millis = parse_duration_ms(item["batch_time"], what=f"{where}.batch_time", path=path)
        if not 1 <= millis <= MAX_BATCH_TIME_MS:
            raise MigrationFormatError(f"{where}.batch_time must be from 1 ms to {MAX_BATCH_TIME_MS // 1000} s, "
                                       f"not {item['batch_time']!r}", path=path)
        pacing["batch_time_ms"] = millis
    ratio = item.get("pause_ratio")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= MAX_PAUSE_RATIO:
            raise MigrationFormatError(f"{where}.pause_ratio must be a number from 0 to {MAX_PAUSE_RATIO} "
                                       f"(a fraction of each batch's time), not {ratio!r}", path=path)
        pacing["pause_ratio"] = float(ratio)
    if item.get("max_replica_lag") is not None:
        pacing["max_replica_lag_ms"] = parse_duration_ms(item["max_replica_lag"], what=f"{where}.max_replica_lag",
                                                         path=path)
    return pacing


def _postgres_options(value: Any, path: Path) -> PostgresOptions:
    if value is None:
        return PostgresOptions()
    if not isinstance(value, dict):
        raise MigrationFormatError("postgres must be a mapping (transaction, lock_timeout, statement_timeout)",
                                   path=path)
    unknown = set(value) - POSTGRES_KEYS
    if unknown:
        raise MigrationFormatError(f"postgres: unknown key(s) {', '.join(sorted(map(str, unknown)))}", path=path)
    transaction = value.get("transaction", "auto")
    # YAML turns true/false into booleans; accept both spellings.
    if isinstance(transaction, bool):
        transaction = "true" if transaction else "false"
    if transaction not in TRANSACTION_MODES:
        raise MigrationFormatError("postgres.transaction must be auto, true or false", path=path)
    lock_timeout = value.get("lock_timeout")
    statement_timeout = value.get("statement_timeout")
    return PostgresOptions(
        transaction=transaction,
        lock_timeout_ms=None if lock_timeout is None else parse_duration_ms(
            lock_timeout, what="postgres.lock_timeout", path=path),
        statement_timeout_ms=None if statement_timeout is None else parse_duration_ms(
            statement_timeout, what="postgres.statement_timeout", path=path),
    )


def parse_manifest(data: Any, path: Path) -> Manifest:
    """Validate the already-loaded content of a migration.yml."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MigrationFormatError("migration.yml must be a mapping of keys to values", path=path)
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise MigrationFormatError(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: {', '.join(sorted(TOP_KEYS))}", path=path)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise MigrationFormatError("description must be a string", path=path)
    phase = data.get("phase", "expand")
    if phase not in PHASES:
        raise MigrationFormatError("phase must be expand or contract", path=path)
    destructive = data.get("destructive", False)
    if not isinstance(destructive, bool):
        raise MigrationFormatError("destructive must be true or false", path=path)
    backfill_raw = data.get("backfill")
    if backfill_raw is None:
        backfills: tuple[Backfill, ...] = ()
    else:
        items = [backfill_raw] if isinstance(backfill_raw, dict) else backfill_raw
        if not isinstance(items, list):
            raise MigrationFormatError("backfill must be a mapping or a list of mappings", path=path)
        backfills = tuple(_backfill(item, i, path) for i, item in enumerate(items))
        names = [b.name for b in backfills]
        if len(set(names)) != len(names):
            raise MigrationFormatError("backfill names must be unique within a set (add name: to each)", path=path)
    validate = data.get("validate") or {}
    rules = parse_rules(validate, path) if isinstance(validate, list) else ()
    if rules or isinstance(validate, list):
        validate = {}
    if not isinstance(validate, dict):
        raise MigrationFormatError("validate must be a list of rules, or the mapping postgres: <query>, mongodb: ...",
                                   path=path)
    unknown = set(validate) - {"postgres", "mongodb"}
    if unknown:
        raise MigrationFormatError(f"validate: unknown key(s) {', '.join(sorted(map(str, unknown)))}", path=path)
    if "postgres" in validate and (not isinstance(validate["postgres"], str) or not validate["postgres"].strip()):
        raise MigrationFormatError("validate.postgres must be an SQL query returning no rows when correct", path=path)
    return Manifest(
        description=description.strip(),
        depends_on=_version_list(data.get("depends_on"), path),
        phase=phase,
        destructive=destructive,
        postgres=_postgres_options(data.get("postgres"), path),
        backfill=backfills,
        online_change=parse_online_changes(data.get("online_change"), path),
        validate=dict(validate),
        rules=rules,
        path=path,
        raw=dict(data),
    )


def load_manifest(path: Path) -> Manifest:
    """Read and validate one migration.yml; YAML syntax errors name the file and line."""
    return parse_manifest(parse_yaml(read_source(path), path), path)

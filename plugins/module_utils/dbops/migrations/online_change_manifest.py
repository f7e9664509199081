"""Parsing of migration.yml's `online_change:` (a mapping or a list of mappings): every problem names the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import OnlineChange

ONLINE_CHANGE_KEYS = {"table", "alter", "using", "revert", "batch_size", "batch_time", "lock_timeout",
                      "swap_retries"}
DEFAULT_SWAP_LOCK_TIMEOUT_MS = 2000
DEFAULT_SWAP_RETRIES = 10
MAX_SWAP_RETRIES = 1000
_IDENT_PATH = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?$')
_COLUMN = re.compile(r'^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)$')


def _actions(value: Any, what: str, path: Path) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(a, str) and a.strip() for a in items):
        raise MigrationFormatError(f"{what} must be a list of ALTER TABLE actions such as "
                                   "\"ALTER COLUMN total TYPE numeric(14,2)\"", path=path)
    actions = tuple(a.strip().rstrip(";").strip() for a in items)
    for action in actions:
        if action.upper().startswith("ALTER TABLE"):
            raise MigrationFormatError(f"{what}: write the action alone, without ALTER TABLE <table>: "
                                       f"{action!r}", path=path)
    return actions


def _using(value: Any, what: str, path: Path) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and _COLUMN.match(k.strip()) and isinstance(v, str) and v.strip()
            for k, v in value.items()):
        raise MigrationFormatError(f"{what} must map target column names to SQL expressions over the original "
                                   "row, such as total: round(total::numeric, 2)", path=path)
    return tuple((k.strip(), v.strip()) for k, v in value.items())


def _online_change(item: Any, index: int, path: Path) -> OnlineChange:
    # Imported here: manifest.py imports this module for its parser and owns the shared number/duration rules.
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import (
        MAX_BATCH_SIZE,
        MAX_BATCH_TIME_MS,
        _positive_int,
        parse_duration_ms,
    )

    where = f"online_change[{index}]"
    if not isinstance(item, dict):
        raise MigrationFormatError(f"{where} must be a mapping with table and alter", path=path)
    unknown = set(item) - ONLINE_CHANGE_KEYS
    if unknown:
        raise MigrationFormatError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: "
                                   f"{', '.join(sorted(ONLINE_CHANGE_KEYS))}", path=path)
    for required in ("table", "alter"):
        if required not in item:
            raise MigrationFormatError(f"{where}: '{required}' is required", path=path)
    table = item["table"]
    if not isinstance(table, str) or not _IDENT_PATH.match(table.strip()):
        raise MigrationFormatError(f"{where}.table must be a table name such as shop.orders", path=path)
    batch_time_ms = None
    if item.get("batch_time") is not None:
        batch_time_ms = parse_duration_ms(item["batch_time"], what=f"{where}.batch_time", path=path)
        if not 1 <= batch_time_ms <= MAX_BATCH_TIME_MS:
            raise MigrationFormatError(f"{where}.batch_time must be from 1 ms to {MAX_BATCH_TIME_MS // 1000} s, "
                                       f"not {item['batch_time']!r}", path=path)
    return OnlineChange(
        table=table.strip(),
        alter=_actions(item["alter"], f"{where}.alter", path),
        using=_using(item.get("using"), f"{where}.using", path),
        revert=None if item.get("revert") is None else _actions(item["revert"], f"{where}.revert", path),
        batch_size=None if item.get("batch_size") is None else _positive_int(
            item["batch_size"], f"{where}.batch_size", path, high=MAX_BATCH_SIZE),
        batch_time_ms=batch_time_ms,
        lock_timeout_ms=DEFAULT_SWAP_LOCK_TIMEOUT_MS if item.get("lock_timeout") is None else parse_duration_ms(
            item["lock_timeout"], what=f"{where}.lock_timeout", path=path),
        swap_retries=DEFAULT_SWAP_RETRIES if item.get("swap_retries") is None else _positive_int(
            item["swap_retries"], f"{where}.swap_retries", path, high=MAX_SWAP_RETRIES, allow_zero=True),
    )


def parse_online_changes(value: Any, path: Path) -> tuple[OnlineChange, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise MigrationFormatError("online_change must be a mapping or a list of mappings", path=path)
    changes = tuple(_online_change(item, i, path) for i, item in enumerate(items))
    tables = [c.table.lower() for c in changes]
    if len(set(tables)) != len(tables):
        raise MigrationFormatError("online_change: a table may be changed online once per set (put every action "
                                   "in one alter list)", path=path)
    return changes

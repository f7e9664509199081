"""PgBouncer's SHOW DATABASES as records: where each client-facing database name is routed, and whether paused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError


class PoolerDatabaseMissing(DbopsError):
    """PgBouncer has no database of that name (not in [databases], and no '*' fallback)."""


@dataclass(frozen=True)
class PoolerDatabase:
    name: str
    host: str | None
    port: int | None
    database: str | None
    pool_mode: str | None
    paused: bool
    disabled: bool
    current_connections: int

    def routes_to(self, host: str, port: int, database: str) -> bool:
        return (self.host, self.port, self.database) == (host, port, database)


def _flag(value: Any) -> bool:
    return str(value).strip() not in ("", "0", "None", "false")


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_show_databases(rows: Iterable[Mapping[str, Any]]) -> list[PoolerDatabase]:
    """Rows of SHOW DATABASES (column name -> value); columns a version lacks read as absent, not as errors."""
    return [PoolerDatabase(name=str(row["name"]), host=row.get("host") or None, port=_number(row.get("port")),
                           database=row.get("database") or None, pool_mode=row.get("pool_mode") or None,
                           paused=_flag(row.get("paused", 0)), disabled=_flag(row.get("disabled", 0)),
                           current_connections=_number(row.get("current_connections")) or 0)
            for row in rows]


def find_database(databases: Iterable[PoolerDatabase], name: str) -> PoolerDatabase:
    for database in databases:
        if database.name == name:
            return database
    raise PoolerDatabaseMissing(f"PgBouncer has no database {name!r} (SHOW DATABASES)")

"""Flyway's flyway_schema_history: versioned and repeatable rows, success, checksums, baseline and undo rows.

Read as Flyway documents the table (installed_rank, version, description, type, script, checksum, installed_by,
installed_on, execution_time, success), row by row in installed_rank order:
- a versioned row (version set) that succeeded applies that version; an UNDO_SQL row or a DELETE row (what
  `flyway repair` writes) takes it away again;
- a BASELINE row (`flyway baseline`) means every version up to it counts as applied without a row of its own;
- a repeatable row (version NULL, script R__name.sql) applies that content; the newest one counts;
- SCHEMA rows (schemas Flyway created) say nothing about migrations;
- a row with success = false, if it is the last word on its migration, is work Flyway left half-done: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.repeatable import (
    REPEATABLE_PREFIX,
    is_repeatable,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.source_text import read_source
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import version_key
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway_checksum import flyway_checksum
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import (
    AdoptedVersion,
    AdoptionRefused,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history_table import (
    find_history_table,
    table_identifier,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.set_matching import spelled_as_on_disk

TABLE = "flyway_schema_history"
_REQUIRED = frozenset({"installed_rank", "version", "type", "script", "checksum", "success"})
_REMOVING = ("UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT", "DELETE")


@dataclass(frozen=True)
class FlywayRow:
    rank: int
    version: str | None
    description: str | None
    kind: str  # Flyway's type column: SQL, JDBC, BASELINE, SCHEMA, UNDO_SQL, DELETE, ...
    script: str | None
    checksum: int | None
    installed_on: str | None
    success: bool

    @property
    def key(self) -> str:
        """The engine's name for the migration: its version, or R__<description> for a repeatable."""
        if self.version is not None:
            return self.version
        return PurePosixPath(self.script or "").name.removesuffix(".sql") or f"{REPEATABLE_PREFIX}{self.description}"


def file_matches(mset: MigrationSet, checksum: int | None) -> bool | None:
    """Whether the set's file still has the checksum Flyway recorded (None: Flyway recorded none).

    Flyway hashes the file as written; some Flyway releases hash it after placeholder replacement: either counts.
    """
    if checksum is None or mset.postgres is None or mset.postgres.up_path is None:
        return None
    raw = read_source(mset.postgres.up_path)
    return checksum in (flyway_checksum(raw), flyway_checksum(mset.postgres.up_sql))


class FlywayHistory:
    """HistoryReader for Flyway."""

    tool = "flyway"

    def present(self, conn: Any) -> bool:
        table = find_history_table(conn, TABLE)
        return table is not None and table.columns >= _REQUIRED

    def rows(self, conn: Any) -> list[FlywayRow]:
        table = find_history_table(conn, TABLE)
        if table is None:
            return []
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import require_psycopg

        query = require_psycopg().sql.SQL(
            "SELECT installed_rank, version, description, type, script, checksum, "
            "to_char(installed_on, 'YYYY-MM-DD\"T\"HH24:MI:SS'), success FROM {} ORDER BY installed_rank"
        ).format(table_identifier(table))
        return [FlywayRow(rank=r[0], version=r[1], description=r[2], kind=(r[3] or "").upper(), script=r[4],
                          checksum=r[5], installed_on=r[6], success=bool(r[7])) for r in conn.execute(query)]

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        return adopted_from_rows(self.rows(conn), sets)


def _refuse_failed(row: FlywayRow) -> AdoptionRefused:
    what = f"version {row.version}" if row.version is not None else f"repeatable {row.key}"
    return AdoptionRefused(
        f"Flyway recorded {what} ({row.script}) as failed in {TABLE} (installed_rank {row.rank}, success = false): "
        "it may be half-applied. Check the database, fix or finish that migration by hand, remove the failed row "
        "with `flyway repair`, then run again; nothing was recorded", version=row.version or row.key)


def _latest_rows(rows: list[FlywayRow]) -> tuple[dict[str, FlywayRow], FlywayRow | None]:
    """(the row that has the last word on each migration, the newest baseline row)."""
    latest: dict[str, FlywayRow] = {}
    baseline = None
    for row in rows:
        if row.kind == "SCHEMA":
            continue
        if row.kind == "BASELINE":
            baseline = row
            continue
        latest[row.key] = row
    return latest, baseline


def adopted_from_rows(rows: list[FlywayRow], sets: list[MigrationSet]) -> list[AdoptedVersion]:
    """What Flyway applied, as AdoptedVersions (checksums compared with the files); refuses half-done rows."""
    latest, baseline = _latest_rows(rows)
    failed = [row for row in latest.values() if not row.success]
    if failed:
        raise _refuse_failed(failed[0])
    by_version = {s.version: s for s in sets}
    adopted: dict[str, AdoptedVersion] = {}
    if baseline is not None and baseline.version is not None:
        limit = version_key(baseline.version)
        for mset in sets:
            if not is_repeatable(mset.version) and version_key(mset.version) <= limit:
                adopted[mset.version] = AdoptedVersion(
                    version=mset.version, tool="flyway", description=f"below Flyway's baseline {baseline.version}",
                    installed_on=baseline.installed_on)
    for row in latest.values():
        if row.kind in _REMOVING:
            adopted.pop(spelled_as_on_disk(sets, row.key), None)
            continue
        version = row.key if is_repeatable(row.key) else spelled_as_on_disk(sets, row.key)
        on_disk = by_version.get(version)
        adopted[version] = AdoptedVersion(
            version=version, tool="flyway", description=row.description, installed_on=row.installed_on,
            tool_checksum=None if row.checksum is None else str(row.checksum),
            matches_file=file_matches(on_disk, row.checksum) if on_disk is not None else None)
    return sorted(adopted.values(), key=lambda a: version_key(a.version))

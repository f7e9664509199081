"""golang-migrate's schema_migrations: one row, the version the database is at, and whether it is `dirty`.

golang-migrate applies versions in order and keeps only the newest, so every version on disk up to it is applied.
`dirty = true` means the migration to that version failed part-way: the database is in a state nobody recorded.
Its table looks like dbmate's (same name): the `dirty` column is what only golang-migrate's has.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import (
    AdoptedVersion,
    AdoptionRefused,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history_table import (
    schema_migrations_table,
    select_rows,
)


class GolangMigrateHistory:
    """HistoryReader for golang-migrate."""

    tool = "golang-migrate"

    def present(self, conn: Any) -> bool:
        return schema_migrations_table(conn, with_dirty=True) is not None

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        table = schema_migrations_table(conn, with_dirty=True)
        if table is None:
            return []
        rows = select_rows(conn, "SELECT version, dirty FROM {} ORDER BY version DESC LIMIT 1", table)
        if not rows:  # golang-migrate empties the table when everything is migrated down
            return []
        row = rows[0]
        current, dirty = int(row[0]), bool(row[1])
        if dirty:
            raise AdoptionRefused(
                f"golang-migrate left version {current} dirty in {table.shown}: its migration failed part-way and "
                "the database is in a state nobody recorded. Finish or undo that migration by hand, mark the "
                f"version the database is really at with `migrate force <version>`, then run again; nothing was "
                "recorded", version=str(current))
        adopted = [AdoptedVersion(version=s.version, tool=self.tool) for s in sets
                   if s.version.isdigit() and int(s.version) <= current]
        if not any(int(a.version) == current for a in adopted):
            adopted.append(AdoptedVersion(version=str(current), tool=self.tool))  # reported as not on disk
        return adopted

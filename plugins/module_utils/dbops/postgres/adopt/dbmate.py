"""dbmate's schema_migrations: one row per applied version (`version`, no checksum, no `dirty` column).

dbmate runs each migration in a transaction together with its row (unless `transaction:false`), so a row means
applied; there is no half-done state to refuse.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptedVersion
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history_table import (
    schema_migrations_table,
    select_rows,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.set_matching import spelled_as_on_disk


class DbmateHistory:
    """HistoryReader for dbmate."""

    tool = "dbmate"

    def present(self, conn: Any) -> bool:
        return schema_migrations_table(conn, with_dirty=False) is not None

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        table = schema_migrations_table(conn, with_dirty=False)
        if table is None:
            return []
        rows = select_rows(conn, "SELECT version::text FROM {} ORDER BY version", table)
        return [AdoptedVersion(version=spelled_as_on_disk(sets, row[0]), tool=self.tool) for row in rows]

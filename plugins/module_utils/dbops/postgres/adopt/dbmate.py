"""dbmate's schema_migrations: one row per applied version (`version`, no checksum, no `dirty` column).

dbmate runs each migration in a transaction together with its row (unless `transaction:false`), so a row means
applied; there is no half-done state to refuse.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptedVersion
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history_table import (
    find_history_table,
    table_identifier,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.set_matching import spelled_as_on_disk

TABLE = "schema_migrations"


class DbmateHistory:
    """HistoryReader for dbmate."""

    tool = "dbmate"

    def present(self, conn: Any) -> bool:
        table = find_history_table(conn, TABLE)
        # golang-migrate's table of the same name has a `dirty` column; dbmate's never has.
        return table is not None and "version" in table.columns and "dirty" not in table.columns

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        table = find_history_table(conn, TABLE)
        if table is None:
            return []
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import require_psycopg

        query = require_psycopg().sql.SQL("SELECT version::text FROM {} ORDER BY version").format(
            table_identifier(table))
        return [AdoptedVersion(version=spelled_as_on_disk(sets, row[0]), tool=self.tool)
                for row in conn.execute(query)]

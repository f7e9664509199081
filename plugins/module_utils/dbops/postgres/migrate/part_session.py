"""What every runner of a part shares: the connection, its timeouts, its ledger row writes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.session_timeouts import (
    SessionTimeouts,
)


@dataclass
class PartSession:
    conn: Any
    timeouts: SessionTimeouts

    @classmethod
    def on(cls, conn: Any) -> PartSession:
        return cls(conn, SessionTimeouts(conn))

    def rollback_quietly(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.execute("ROLLBACK")

    def record(self, mset: MigrationSet, status: str, opts: RunOptions, *, error: str | None = None,
               duration_ms: int | None = None, finished: bool = False, keep_started: bool = False) -> None:
        """The set's row in dbops.schema_migrations."""
        ledger.record_status(self.conn, version=mset.version, name=mset.slug, checksum=postgres_part(mset).checksum,
                             status=status, run_id=opts.run_id, error=error, duration_ms=duration_ms,
                             finished=finished, keep_started=keep_started)

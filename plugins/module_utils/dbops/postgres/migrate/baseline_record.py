"""Recording what another migration tool applied as `baseline` rows of the ledger, all or none, nothing run.

A baseline row is an ordinary applied row (so planning, drift and rollback treat it like any other) whose
applied_from says `baseline from <tool>` instead of the host it was applied from; started_at is when the other
tool applied it, where that tool kept it. The other tool's own tables are never written.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.baseline import Baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.ledger_write import write

_INSERT = """
INSERT INTO dbops.schema_migrations (version, name, checksum, status, started_at, finished_at, duration_ms,
                                     applied_from, run_id)
VALUES (%(version)s, %(name)s, %(checksum)s, 'applied', COALESCE(%(installed_on)s::timestamptz, now()), now(), 0,
        %(applied_from)s, %(run_id)s)
ON CONFLICT (version) DO NOTHING
"""


def applied_from(tool: str) -> str:
    return f"baseline from {tool}"


def record_baseline(conn: Any, baseline: Baseline, run_id: str) -> None:
    """Every entry in one transaction; a version the ledger gained meanwhile is left as it is (DO NOTHING)."""
    if not baseline.entries or baseline.tool is None:
        return
    with conn.transaction():
        for entry in baseline.entries:
            write(conn, _INSERT, {"version": entry.version, "name": entry.name, "checksum": entry.checksum,
                                  "installed_on": entry.installed_on, "applied_from": applied_from(baseline.tool),
                                  "run_id": run_id})

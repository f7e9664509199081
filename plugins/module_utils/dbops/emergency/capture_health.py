"""MongoDB change capture health, from what the capture itself records: its newest checkpoint in the repository.

The capture advances its checkpoint even on an idle server (capture.py: "Coverage"), so a checkpoint older than
max_lag_s means the capture is stopped or stuck, and changes after covered_until are not yet recoverable.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.change_archive import read_checkpoint
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository


def capture_health(repo: Repository, database: str, max_lag_s: float) -> dict[str, Any]:
    checkpoint = read_checkpoint(repo, database)
    if checkpoint is None:
        return {"running": False, "healthy": False, "reason": f"no change capture of {database} has run"}
    lag = (utc_now() - as_utc(checkpoint.covered_wall)).total_seconds() if checkpoint.covered_wall else None
    healthy = lag is not None and lag <= max_lag_s
    return {
        "running": healthy, "healthy": healthy, "mode": checkpoint.mode,
        "covered_until": to_iso(as_utc(checkpoint.covered_wall)) if checkpoint.covered_wall else None,
        "lag_s": round(lag, 3) if lag is not None else None, "updated_at": checkpoint.updated_at,
        "reason": "" if healthy else f"the newest checkpoint is older than {max_lag_s:g} s: the capture is not "
                                     "keeping up (changes after covered_until are not recoverable yet)",
    }

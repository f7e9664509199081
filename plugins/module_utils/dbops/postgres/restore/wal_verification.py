"""Proving, before a restore stops anything, that every archived WAL file recovery will read is intact.

The plan names the files (pitr_plan: segments from the base backup's start to the target along the timeline path,
and the history files of that path); each one is read in full against the sha256 the repository stored with it,
and every segment must have the cluster's segment size. A segment found broken only during replay would stop
recovery half way, after the running server was already stopped and its data directory moved aside.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgRestorePlan
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archived_file_check import (
    describe_problems,
    wal_problems,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository


def verify_restore_wal(repo: Repository, plan: PgRestorePlan) -> int:
    """Check every history file and segment the plan needs; RestoreError naming each bad one. Returns the count."""
    # (name, expected size): history files have no fixed size, segments the cluster's segment size
    wanted: list[tuple[str, int | None]] = [(name, None) for name in plan.histories]
    wanted += [(name, plan.segment_size) for name in plan.wal_segments]
    problems = wal_problems(repo, wanted)
    if problems:
        raise RestoreError(
            f"the WAL archive in {repo.describe()} cannot replay base backup {plan.backup.backup_id} to "
            f"{plan.target.describe()}: {len(problems)} of the {len(wanted)} WAL file(s) it needs are unusable: "
            f"{describe_problems(problems)}. Nothing was touched"
        )
    return len(wanted)

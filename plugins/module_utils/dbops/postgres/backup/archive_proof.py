"""Proof that a base backup's WAL is in the archive before the backup counts as taken.

A base backup restores only with the WAL written while it ran: the segments from its start LSN to its stop LSN
and the backup history file PostgreSQL archives when the backup stops. Until each is archived and reads back
intact (full segment size, sha256 as stored), the backup is not usable for a restore, so it must not be reported
as a success nor written to the catalog.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.restore_point import wait_archived
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archived_file_check import (
    describe_problems,
    wal_problems,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    parse_lsn,
    parse_segment_name,
    segment_name,
    segment_number,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository


def backup_wal_files(details: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(name, expected size) of the backup history file and every segment from start to stop of a base backup
    (details: its catalog record's)."""
    seg = int(details["wal_segment_size"])
    start_lsn = parse_lsn(details["start_lsn"])
    first = segment_number(start_lsn, seg)
    last = parse_segment_name(details["stop_wal"], seg)[1]
    start_tl, stop_tl = int(details["timeline"]), int(details["stop_timeline"])
    # Only a backup taken across a standby's promotion changes timeline; its last segment is on the new one.
    segments = [segment_name(start_tl if segno < last else stop_tl, segno, seg) for segno in range(first, last + 1)]
    history = f"{details['start_wal']}.{start_lsn % seg:08X}.backup"
    return [(history, None)] + [(name, seg) for name in segments]


def prove_archived(conn, repo: Repository, backup_id: str, details: dict[str, Any], timeout: float) -> int:
    """Wait (at most timeout seconds in all) for the backup's WAL files, then verify each; BackupError otherwise.

    Returns how many files were verified.
    """
    wanted = backup_wal_files(details)
    deadline = time.monotonic() + timeout
    try:
        for name, _size in wanted:
            wait_archived(conn, repo, name, max(deadline - time.monotonic(), 0.0))
    except BackupError as exc:
        raise BackupError(f"base backup {backup_id} is not usable and was not added to the catalog: "
                          f"{exc.message}") from exc
    problems = wal_problems(repo, wanted)
    if problems:
        raise BackupError(f"base backup {backup_id} is not usable and was not added to the catalog: its "
                          f"archived WAL is damaged: {describe_problems(problems)}")
    return len(wanted)

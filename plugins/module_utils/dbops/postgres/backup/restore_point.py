"""PostgreSQL side of a recovery point: a restore point record, a WAL switch, and proof it reached the archive.

pg_create_restore_point() writes its WAL record immediately, not at commit, so it runs in its own autocommit
statement and the LSN it returns is recorded: everything committed before that statement is before the point.
PostgreSQL stops at the first restore point with a given name after the base backup, and names repeat (every
drill creates "before_disaster"), so the name in WAL is a unique internal one; the catalog maps the user's name to it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import query_one
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver import wal_key
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.chain import archiver_status
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

CREATE_SQL = "select pg_create_restore_point(%s)::text, clock_timestamp()"
WALFILE_SQL = "select pg_walfile_name(%s::pg_lsn)"
SWITCH_SQL = "select pg_switch_wal()::text"


@dataclass
class PgRecoveryPosition:
    lsn: str
    internal_name: str
    timeline: int
    wal_file: str
    time: str
    archived: bool


def internal_name_for(name: str) -> str:
    # At most 63 bytes (PostgreSQL's MAXFNAMELEN - 1); the random suffix makes it unique in the WAL.
    return f"dbops_{name[:40]}_{uuid.uuid4().hex[:12]}"


def planned_statements(name: str) -> list[str]:
    return [CREATE_SQL % f"'{internal_name_for(name)}'", WALFILE_SQL % "'<lsn>'", SWITCH_SQL]


def wait_archived(conn, repo: Repository, wal_file: str, timeout: float) -> None:
    """Poll the repository until wal_file is there; on timeout say what the server's archiver reports."""
    deadline = time.monotonic() + timeout
    key = wal_key(wal_file)
    while True:
        if repo.head(key) is not None:
            return
        if time.monotonic() >= deadline:
            status = archiver_status(conn)
            detail = ""
            if status["failing"] or status["failed_count"]:
                detail = (f"; pg_stat_archiver: failed_count={status['failed_count']}, last_failed_wal="
                          f"{status['last_failed_wal']} at {status['last_failed_time']}, last_archived_wal="
                          f"{status['last_archived_wal']}")
            if status["archive_mode"] == "off":
                detail += "; archive_mode is off: run the wal_archiving role first"
            raise BackupError(
                f"WAL segment {wal_file} was not archived to {repo.describe()} within {timeout:.0f}s{detail}"
            )
        time.sleep(0.25)


def create_pg_recovery_point(conn, repo: Repository, name: str, *, wait_timeout: float = 300.0,
                             queries: list[str] | None = None) -> PgRecoveryPosition:
    internal = internal_name_for(name)
    lsn, moment = query_one(conn, CREATE_SQL, (internal,))
    wal_file = query_one(conn, WALFILE_SQL, (lsn,))[0]
    query_one(conn, SWITCH_SQL)
    if queries is not None:
        queries.extend([CREATE_SQL % f"'{internal}'", WALFILE_SQL % f"'{lsn}'", SWITCH_SQL])
    wait_archived(conn, repo, wal_file, wait_timeout)
    return PgRecoveryPosition(lsn=lsn, internal_name=internal, timeline=int(wal_file[:8], 16), wal_file=wal_file,
                              time=to_iso(moment), archived=True)


def flush_wal(conn, repo: Repository, *, wait_timeout: float = 300.0, queries: list[str] | None = None) -> str:
    """Make everything committed so far reach the archive: a commit record stamped now, a WAL switch, a wait.

    The commit matters for time targets: recovery to a time only stops at a commit after that time, and a target
    later than the last archived commit would otherwise end in "recovery ended before target was reached".
    """
    query_one(conn, "select pg_current_xact_id()::text")  # autocommit: its own transaction, a commit record
    lsn = query_one(conn, "select pg_current_wal_insert_lsn()::text")[0]
    wal_file = query_one(conn, WALFILE_SQL, (lsn,))[0]
    query_one(conn, SWITCH_SQL)
    if queries is not None:
        queries.extend(["select pg_current_xact_id()", SWITCH_SQL])
    wait_archived(conn, repo, wal_file, wait_timeout)
    return wal_file

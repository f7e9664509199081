"""One PITR scenario, run against a local and an S3 repository: rows in batches with a recovery point, a time and
an LSN between them, then restores to each with exact row checks."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import RestoreRequest, run_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from tests.support.backup_env import PG_BIN_DIR, ArchivedCluster
from tests.support.pg_cluster import PG_OS_USER


@dataclass
class Marks:
    backup_id: str
    point: str
    time: str
    lsn: str


def insert(env: ArchivedCluster, first: int, last: int) -> None:
    env.execute(f"insert into t select generate_series({first}, {last})")


def build_history(env: ArchivedCluster, point_name: str = "rp1") -> Marks:
    """t holds 1..10 | time | 11..20 | recovery point | 21..30 | LSN | 31..40."""
    env.execute("create table t (id int primary key)")
    databases = DatabaseConnections(postgres_dsn=env.dsn)
    backup = run_backup(BackupRequest(repository=env.options, databases=databases, pg_bin_dir=PG_BIN_DIR))
    assert backup.wal_chain["ok"], backup.wal_chain
    insert(env, 1, 10)
    time.sleep(0.05)
    moment = env.execute("select to_char(clock_timestamp() at time zone 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0]
    time.sleep(0.05)
    insert(env, 11, 20)
    point = create_recovery_point(RecoveryPointRequest(name=point_name, repository=env.options, databases=databases,
                                                       wait_timeout=60))
    assert point.changed and point.lsn
    insert(env, 21, 30)
    lsn = env.execute("select pg_current_wal_insert_lsn()::text")[0]
    insert(env, 31, 40)
    assert env.rows() == list(range(1, 41))
    return Marks(backup_id=backup.backup_id, point=point_name, time=moment, lsn=lsn)


def restore(env: ArchivedCluster, target: PgTargetSpec):
    return run_restore(RestoreRequest(
        repository=env.options, databases=DatabaseConnections(postgres_dsn=env.dsn), target=target,
        cluster=ClusterOnHost(pgdata=str(env.cluster.datadir), bin_dir=PG_BIN_DIR, os_user=PG_OS_USER), timeout=120))


def restore_to_each_target(env: ArchivedCluster, marks: Marks) -> None:
    first = restore(env, PgTargetSpec(name=marks.point))
    assert first.verified, first
    assert first.backup_id == marks.backup_id
    assert env.rows() == list(range(1, 21))
    assert first.moved_aside and first.timeline == 2

    # The time lies before the first restore's branch point, so the latest timeline's history still holds it.
    second = restore(env, PgTargetSpec(time=marks.time))
    assert second.verified, second
    assert env.rows() == list(range(1, 11))

    # The LSN lies on timeline 1 after the point where timeline 2 branched off: ask for timeline 1 explicitly.
    third = restore(env, PgTargetSpec(lsn=marks.lsn, timeline="1"))
    assert third.verified, third
    assert env.rows() == list(range(1, 31))
    assert third.timeline == 4
    # Archiving carries on under the newest timeline: the history and a segment of timeline 4 are archived.
    names = [info.key for info in env.repo.list("pg/wal/")]
    assert "pg/wal/00000004.history" in names
    assert any(name.startswith("pg/wal/00000004") and not name.endswith("history") for name in names)

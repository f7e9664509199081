"""Restores that cannot succeed fail clearly, and (except a target recovery never reaches, which only PostgreSQL can
discover) before anything is touched: the server keeps running with its data and no directory is moved."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import RestoreRequest, run_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    PgRestoreRequest,
    restore_postgres,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import format_lsn, parse_lsn
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from tests.support.backup_env import PG_BIN_DIR, ArchivedCluster
from tests.support.pg_cluster import PG_OS_USER


@pytest.fixture
def env(local_cluster) -> ArchivedCluster:
    local_cluster.execute("create table t (id int primary key)")
    local_cluster.execute("insert into t select generate_series(1, 5)")
    databases = DatabaseConnections(postgres_dsn=local_cluster.dsn)
    backup = run_backup(BackupRequest(repository=local_cluster.options, databases=databases, pg_bin_dir=PG_BIN_DIR))
    local_cluster.backup_id = backup.backup_id
    local_cluster.execute("insert into t select generate_series(6, 10)")
    create_recovery_point(RecoveryPointRequest(name="good", repository=local_cluster.options, databases=databases))
    local_cluster.execute("insert into t select generate_series(11, 15)")
    return local_cluster


def restore(env: ArchivedCluster, target: PgTargetSpec, check_mode: bool = False):
    return run_restore(RestoreRequest(
        repository=env.options, databases=DatabaseConnections(postgres_dsn=env.dsn), target=target,
        cluster=ClusterOnHost(pgdata=str(env.cluster.datadir), bin_dir=PG_BIN_DIR, os_user=PG_OS_USER), timeout=60,
        check_mode=check_mode))


def flush_wal_until_archived(env: ArchivedCluster, segment: str) -> None:
    deadline = time.monotonic() + 30
    while env.repo.head(f"pg/wal/{segment}") is None:
        assert time.monotonic() < deadline, f"{segment} not archived"
        time.sleep(0.2)


def untouched(env: ArchivedCluster) -> None:
    assert env.cluster.is_running()
    assert env.rows() == list(range(1, 16))
    leftovers = [p.name for p in env.cluster.base_dir.iterdir() if "dbops" in p.name and p.suffix != ".log"]
    assert leftovers == [], leftovers


def test_refusals_before_anything_is_touched(env):
    with pytest.raises(RestoreError, match="recovery point 'no_such_point' does not exist.*nothing was touched"):
        restore(env, PgTargetSpec(name="no_such_point"))
    untouched(env)

    with pytest.raises(RestoreError, match="before the oldest base backup"):
        restore(env, PgTargetSpec(time="2001-01-01T00:00:00Z"))
    untouched(env)

    with pytest.raises(RestoreError, match="after the newest archived WAL"):
        restore(env, PgTargetSpec(lsn="FF/0"))
    untouched(env)

    with pytest.raises(RestoreError, match="in the future"):
        restore(env, PgTargetSpec(time="2999-01-01T00:00:00Z"))
    untouched(env)

    plan = restore(env, PgTargetSpec(name="good"), check_mode=True)
    assert plan.changed and not plan.verified
    assert plan.plan["postgres"]["backup_id"] == env.backup_id
    assert plan.plan["postgres"]["recovery_settings"]["recovery_target_action"] == "promote"
    untouched(env)


def test_corrupted_backup_is_detected_before_anything_is_touched(env, local_repo_dir):
    base = next(Path(local_repo_dir, "pg", "base", env.backup_id).glob("base.tar.*"))
    data = bytearray(base.read_bytes())
    data[len(data) // 2] ^= 0x01
    base.write_bytes(bytes(data))
    with pytest.raises(RestoreError, match=rf"corrupted: checksum mismatch for pg/base/{env.backup_id}/base\.tar"):
        restore(env, PgTargetSpec(name="good"))
    untouched(env)


def test_target_recovery_never_reaches_is_reported(env):
    """An LSN in the zero-filled tail of the newest archived segment (no WAL flush before the restore, so nothing
    follows it in the archive): PostgreSQL runs out of WAL before the target, stops with FATAL after pg_ctl has
    returned, and the module says so (the data directory moved aside is kept); a rerun to a good point recovers."""
    switched = env.execute("select pg_switch_wal()::text")[0]
    segment = env.execute(f"select pg_walfile_name('{switched}')")[0]
    flush_wal_until_archived(env, segment)
    unreachable = format_lsn(parse_lsn(switched) + 4096)
    with pytest.raises(RestoreError, match="FATAL.*recovery ended before configured recovery target was reached"):
        restore_postgres(PgRestoreRequest(
            repo=env.repo, postgres_dsn=env.dsn, target=PgTargetSpec(lsn=unreachable),
            cluster=ClusterOnHost(pgdata=str(env.cluster.datadir), bin_dir=PG_BIN_DIR, os_user=PG_OS_USER),
            timeout=60, flush_before=False))
    assert not env.cluster.is_running()
    assert list(env.cluster.base_dir.glob("data.dbops-before-restore-*"))

    again = restore(env, PgTargetSpec(name="good"))
    assert again.verified
    assert env.rows() == list(range(1, 11))


def _archived_segment_of_backup(env: ArchivedCluster, local_repo_dir) -> Path:
    """The first WAL segment recovery from the env's base backup reads, as a file of the local repository."""
    record = next(b for b in Catalog(env.repo).backups(engine="postgres") if b.backup_id == env.backup_id)
    return Path(local_repo_dir, "pg", "wal", record.details["start_wal"])


def test_a_corrupted_wal_segment_is_refused_before_anything_is_touched(env, local_repo_dir):
    segment = _archived_segment_of_backup(env, local_repo_dir)
    data = bytearray(segment.read_bytes())
    data[len(data) // 3] ^= 0x01  # the sidecar keeps the sha256 recorded when it was archived
    segment.write_bytes(bytes(data))
    with pytest.raises(RestoreError, match=rf"{segment.name} is corrupted: checksum mismatch.*Nothing was touched"):
        restore(env, PgTargetSpec(name="good"))
    untouched(env)


def test_a_truncated_wal_segment_is_refused_before_anything_is_touched(env, local_repo_dir):
    segment = _archived_segment_of_backup(env, local_repo_dir)
    with open(segment, "r+b") as handle:
        handle.truncate(segment.stat().st_size // 2)
    with pytest.raises(RestoreError, match=rf"{segment.name} is \d+ bytes instead of .* \(truncated\)"):
        restore(env, PgTargetSpec(name="good"))
    untouched(env)

"""The S3 repository becomes unreachable for a while under write load: archiving keeps failing, PostgreSQL keeps
the segments and retries, the failures are surfaced, and once S3 is back nothing is lost: a point-in-time restore to
after the outage has every acknowledged write from before the point.

moto keeps its state in memory, so the outage is a TCP proxy between the archiver and moto that is cut and restored.
The outage lasts DBOPS_TEST_S3_OUTAGE_SECONDS (default 60).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import RestoreRequest, run_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from tests.support.backup_env import PG_BIN_DIR, new_bucket, s3_archiver_config, s3_options, start_archived_cluster
from tests.support.pg_cluster import PG_OS_USER
from tests.support.tcp_proxy import new_proxy

OUTAGE_SECONDS = float(os.environ.get("DBOPS_TEST_S3_OUTAGE_SECONDS", "60"))


class Writer(threading.Thread):
    """Inserts one row per transaction and records every id whose commit was acknowledged; switches WAL segments
    now and then so the archiver has segments to ship during the outage."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.acked: list[int] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                next_id, last_switch = 1, time.monotonic()
                while not self.stop_event.is_set():
                    conn.execute("insert into t (id, payload) values (%s, repeat('x', 200))", (next_id,))
                    self.acked.append(next_id)
                    next_id += 1
                    if time.monotonic() - last_switch > 5:
                        conn.execute("select pg_switch_wal()")
                        last_switch = time.monotonic()
                    time.sleep(0.003)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


@pytest.mark.slow
def test_s3_outage_during_archiving_loses_nothing(archiver, s3_server):
    bucket = new_bucket(s3_server)
    proxy = new_proxy("127.0.0.1", s3_server.port)
    config = s3_archiver_config(proxy.endpoint_url, bucket)
    env = start_archived_cluster(archiver, s3_options(s3_server.endpoint_url, bucket), config)
    # Each archive attempt gives up after 2 s of retries: PostgreSQL then retries the segment itself.
    archiver.write_config({**config, "push_retry_seconds": 2, "fetch_retry_seconds": 60}, env.config_name)
    writer = Writer(env.dsn)
    try:
        env.execute("create table t (id int primary key, payload text)")
        databases = DatabaseConnections(postgres_dsn=env.dsn)
        backup = run_backup(BackupRequest(repository=env.options, databases=databases, pg_bin_dir=PG_BIN_DIR))
        assert backup.wal_chain["ok"]
        writer.start()
        time.sleep(3)

        proxy.cut()
        outage_started = time.monotonic()
        failed_before = env.execute("select failed_count from pg_stat_archiver")[0]
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            time.sleep(2)
        status = run_backup(BackupRequest(repository=env.options, databases=databases, state="list"))
        ready = list(Path(env.cluster.datadir, "pg_wal", "archive_status").glob("*.ready"))
        proxy.restore()

        # The failures were surfaced and PostgreSQL kept the unarchived segments.
        assert status.archiver["failed_count"] > failed_before
        assert status.archiver["failing"] and status.archiver["last_failed_wal"]
        assert any("archiving is failing" in warning for warning in status.warnings)
        assert ready, "segments waiting for the archive during the outage"
        assert writer.is_alive() and writer.error is None

        time.sleep(2)
        acked_before_point = set(writer.acked)
        point = create_recovery_point(RecoveryPointRequest(name="after_outage", repository=env.options,
                                                           databases=databases, wait_timeout=240))
        acked_at_point = set(writer.acked)
        time.sleep(1)
        writer.stop_event.set()
        writer.join(timeout=30)
        assert writer.error is None
        assert len(writer.acked) > len(acked_at_point)

        listing = run_backup(BackupRequest(repository=env.options, databases=databases, state="list"))
        assert listing.wal_chain["ok"], listing.wal_chain
        assert not listing.archiver["failing"]

        result = run_restore(RestoreRequest(
            repository=env.options, databases=databases, target=PgTargetSpec(name=point.name),
            cluster=ClusterOnHost(pgdata=str(env.cluster.datadir), bin_dir=PG_BIN_DIR, os_user=PG_OS_USER),
            timeout=300))
        assert result.verified, result
        restored = set(env.rows())
        assert acked_before_point <= restored, f"lost {len(acked_before_point - restored)} acknowledged writes"
        assert restored <= acked_at_point | {max(acked_at_point) + 1}
    finally:
        writer.stop_event.set()
        proxy.stop()
        env.cluster.destroy()

"""One recovery point for PostgreSQL and MongoDB, and one restore bringing both back to it (engine entry points of
the backup, recovery_point and restore modules), with exact row and document checks."""

from __future__ import annotations

import pymongo

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import RestoreRequest, run_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from tests.support.backup_env import PG_BIN_DIR, running_capture
from tests.support.pg_cluster import PG_OS_USER


def test_recovery_point_and_restore_of_both_databases(local_cluster, mongo_server, mongo_db_name):
    env = local_cluster
    things = pymongo.MongoClient(mongo_server)[mongo_db_name].things
    env.execute("create table t (id int primary key)")
    env.execute("insert into t select generate_series(1, 10)")
    things.insert_many([{"_id": i} for i in range(1, 11)])

    databases = DatabaseConnections(postgres_dsn=env.dsn, mongodb_uri=mongo_server, mongodb_database=mongo_db_name)
    cluster = ClusterOnHost(pgdata=str(env.cluster.datadir), bin_dir=PG_BIN_DIR, os_user=PG_OS_USER)
    backup = run_backup(BackupRequest(repository=env.options, databases=databases, pg_bin_dir=PG_BIN_DIR))
    assert {b["engine"] for b in backup.backups} == {"postgres", "mongodb"}
    assert backup.oplog_end

    with running_capture(mongo_server, env.options, mongo_db_name):
        env.execute("insert into t select generate_series(11, 20)")
        things.insert_many([{"_id": i} for i in range(11, 21)])
        point = create_recovery_point(RecoveryPointRequest(
            name="both", repository=env.options, databases=databases, wait_timeout=60))
        assert point.lsn and point.oplog_ts
        env.execute("insert into t select generate_series(21, 30)")
        things.insert_many([{"_id": i} for i in range(21, 31)])
        things.drop()  # the disaster

    plan = run_restore(RestoreRequest(repository=env.options, databases=databases, target=PgTargetSpec(name="both"),
                                      cluster=cluster, check_mode=True))
    assert plan.changed and set(plan.plan) == {"postgres", "mongodb"}
    assert env.rows() == list(range(1, 31))

    result = run_restore(RestoreRequest(repository=env.options, databases=databases, target=PgTargetSpec(name="both"),
                                        cluster=cluster, timeout=120))
    assert result.verified, result
    assert env.rows() == list(range(1, 21))
    assert sorted(doc["_id"] for doc in things.find()) == list(range(1, 21))

"""PITR to a recovery point, a time and an LSN with an S3 repository (moto's S3 server), exact row checks."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import check_reachable
from tests.integration.jobs.pitr_scenario import build_history, restore_to_each_target
from tests.support.backup_env import new_bucket, s3_archiver_config, s3_options, start_archived_cluster


@pytest.fixture
def s3_cluster(archiver, s3_server):
    bucket = new_bucket(s3_server)
    env = start_archived_cluster(archiver, s3_options(s3_server.endpoint_url, bucket),
                                 s3_archiver_config(s3_server.endpoint_url, bucket))
    try:
        yield env
    finally:
        env.cluster.destroy()


def test_pitr_to_name_time_and_lsn_s3(s3_cluster):
    # The installed archiver reaches the bucket as the cluster's OS user (what the wal_archiving module checks).
    check_reachable(s3_cluster.archiver.spec(s3_cluster.config_name))
    marks = build_history(s3_cluster)
    # Every object in the bucket carries its sha256 as metadata.
    base = s3_cluster.repo.list("pg/base/")
    assert base and all(s3_cluster.repo.head(info.key).sha256 for info in base)
    restore_to_each_target(s3_cluster, marks)

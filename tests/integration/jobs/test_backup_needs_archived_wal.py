"""A base backup is a success only once its WAL is archived: with archiving failing it fails, and the catalog does
not list it."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from tests.support.backup_env import PG_BIN_DIR


def test_a_base_backup_whose_wal_cannot_be_archived_fails(local_cluster):
    # The way an archive outage looks to PostgreSQL: archive_command exits non-zero, segments wait in pg_wal.
    local_cluster.execute("alter system set archive_command = 'false'")
    local_cluster.execute("select pg_reload_conf()")
    with pytest.raises(BackupError, match=r"is not usable and was not added to the catalog: .* was not archived"):
        run_backup(BackupRequest(repository=local_cluster.options,
                                 databases=DatabaseConnections(postgres_dsn=local_cluster.dsn),
                                 pg_bin_dir=PG_BIN_DIR, archive_wait=5))
    assert Catalog(local_cluster.repo).backups(engine="postgres") == []


def test_a_base_backup_lists_its_verified_wal(local_cluster):
    result = run_backup(BackupRequest(repository=local_cluster.options,
                                      databases=DatabaseConnections(postgres_dsn=local_cluster.dsn),
                                      pg_bin_dir=PG_BIN_DIR))
    (record,) = Catalog(local_cluster.repo).backups(engine="postgres")
    assert record.backup_id == result.backup_id
    # At least the backup history file and the segment holding the backup's start.
    assert record.details["wal_archived"] >= 2
    assert any("verify the" in command for command in result.queries)

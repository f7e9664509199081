"""backup_info reports the catalog without taking a backup; backup state=list still works, with a deprecation."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from tests.support.ansible_cli import run_module
from tests.support.backup_env import PG_BIN_DIR


def test_backup_info_lists_the_catalog_and_the_archive_and_changes_nothing(local_cluster):
    taken = run_backup(BackupRequest(repository=local_cluster.options,
                                     databases=DatabaseConnections(postgres_dsn=local_cluster.dsn),
                                     pg_bin_dir=PG_BIN_DIR))
    args = {"postgres_dsn": local_cluster.dsn, "repository": local_cluster.options.url, "keep": 1}

    info = run_module("sevenp.dbops.backup_info", args)
    assert info.returncode == 0, info.output
    assert info.result["changed"] is False
    assert [b["backup_id"] for b in info.result["catalog"]["backups"]] == [taken.backup_id]
    assert info.result["wal_chain"]["ok"] is True
    assert info.result["retention"]["keep"] == 1 and info.result["retention"]["expired_backups"] == []
    assert "backup_ids" not in info.result  # an info module returns what it read, not a backup's keys
    assert len(Catalog(local_cluster.repo).backups(engine="postgres")) == 1

    checked = run_module("sevenp.dbops.backup_info", args, "--check")
    assert checked.returncode == 0 and checked.result["catalog"] == info.result["catalog"], checked.output

    deprecated = run_module("sevenp.dbops.backup", {**args, "state": "list"})
    assert deprecated.returncode == 0, deprecated.output
    assert deprecated.result["catalog"]["backups"] == info.result["catalog"]["backups"]
    assert "backup_info" in deprecated.output and "deprecat" in deprecated.output.lower()

    wrong = run_module("sevenp.dbops.backup", {**args, "state": "absent"})
    assert wrong.returncode != 0
    assert "state must be present (or the deprecated list), not 'absent'" in wrong.result["msg"]

"""Choosing the base backup and proving the archive reaches the target, before anything is touched."""

from __future__ import annotations

import time

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import (
    plan_restore,
    resolve_target,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    derive_restore_command,
    read_auto_conf,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    BackupRecord,
    Catalog,
    RecoveryPointRecord,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository


def backup(n: int, start: str, stop: str, finished: str) -> BackupRecord:
    return BackupRecord(backup_id=f"postgres-base-{n}", engine="postgres", kind="base", started_at=finished,
                        finished_at=finished, size_bytes=1, objects=[],
                        details={"start_lsn": start, "stop_lsn": stop, "timeline": 1,
                                 "wal_segment_size": 16 * 1024 * 1024})


@pytest.fixture
def catalog(tmp_path):
    repo = open_repository(str(tmp_path / "repo"))
    catalog = Catalog(repo)
    catalog.add_backup(backup(1, "0/2000028", "0/2000100", "2026-01-01T00:00:00.000000Z"))
    catalog.add_backup(backup(2, "0/6000028", "0/6000100", "2026-01-02T00:00:00.000000Z"))
    catalog.add_recovery_point(RecoveryPointRecord(
        name="p", created_at="2026-01-02T01:00:00.000000Z",
        postgres={"lsn": "0/7000200", "internal_name": "dbops_p_1", "timeline": 1,
                  "wal_file": "000000010000000000000007", "time": "2026-01-02T01:00:00.000000Z"}))
    for segno in (2, 3, 4, 6, 7, 8):  # 5 is missing
        repo.put_bytes(f"pg/wal/0000000100000000{segno:08X}", b"wal")
    return catalog


def test_name_target_uses_the_newest_preceding_backup(catalog):
    plan = plan_restore(catalog.repo, catalog, resolve_target(catalog, target_name="p"))
    assert plan.backup.backup_id == "postgres-base-2"
    assert plan.settings["recovery_target_name"] == "dbops_p_1"
    assert plan.settings["recovery_target_action"] == "promote"
    assert plan.settings["recovery_target_timeline"] == "1"
    assert (plan.required_first, plan.required_last) == ("000000010000000000000006", "000000010000000000000007")


def test_a_wal_gap_is_found_before_anything_is_touched(catalog):
    target = resolve_target(catalog, target_lsn="0/7000000")
    with pytest.raises(RestoreError, match="WAL gap.*000000010000000000000005"):
        plan_restore(catalog.repo, catalog, target, backup_id="postgres-base-1")


def test_targets_outside_backups_and_archive(catalog):
    with pytest.raises(RestoreError, match="before the oldest base backup postgres-base-1"):
        plan_restore(catalog.repo, catalog, resolve_target(catalog, target_lsn="0/1000000"))
    with pytest.raises(RestoreError, match="after the newest archived WAL"):
        plan_restore(catalog.repo, catalog, resolve_target(catalog, target_lsn="0/9000100"))
    with pytest.raises(RestoreError, match="does not exist"):
        resolve_target(catalog, target_name="nope")
    with pytest.raises(RestoreError, match="exactly one"):
        resolve_target(catalog, target_name="p", target_lsn="0/1")
    with pytest.raises(RestoreError, match="after the newest archived WAL"):
        plan_restore(catalog.repo, catalog, resolve_target(catalog, target_time="2030-06-01T00:00:00Z"),
                     now=time.time() + 10**9, backup_id="postgres-base-2")


def test_time_target_setting_is_in_postgresql_syntax(catalog):
    target = resolve_target(catalog, target_time="2026-01-02T03:04:05.123456+02:00")
    assert target.settings()["recovery_target_time"] == "2026-01-02 01:04:05.123456+00"
    assert target.settings()["recovery_target_timeline"] == "latest"


def test_restore_command_comes_from_the_archive_command(tmp_path):
    command = "/usr/bin/python3 /opt/sevenp-dbops/bin/dbops-wal-archive --config /x.json push %p %f"
    assert derive_restore_command(command) == \
        "/usr/bin/python3 /opt/sevenp-dbops/bin/dbops-wal-archive --config /x.json fetch %f %p"
    assert derive_restore_command("cp %p /somewhere/%f") is None
    conf = tmp_path / "postgresql.auto.conf"
    conf.write_text("# Do not edit\narchive_mode = 'on'\narchive_command = 'a ''b'' %p'\narchive_mode = 'always'\n")
    assert read_auto_conf(conf) == {"archive_mode": "always", "archive_command": "a 'b' %p"}


def test_segments_a_restore_abandoned_do_not_hide_a_gap_or_fake_one(tmp_path):
    """Timeline 1 went on to segment 6 after timeline 2 branched off in segment 3 (a restore to an earlier point):
    recovery along timeline 2 reads 1:2, 2:3, 2:4, and 1:5 / 1:6 are not on its way."""
    repo = open_repository(str(tmp_path / "repo"))
    catalog = Catalog(repo)
    catalog.add_backup(backup(1, "0/2000028", "0/2000100", "2026-01-01T00:00:00.000000Z"))
    for name in ("000000010000000000000002", "000000010000000000000003", "000000010000000000000005",
                 "000000010000000000000006", "000000020000000000000003", "000000020000000000000004"):
        repo.put_bytes(f"pg/wal/{name}", b"wal")
    repo.put_bytes("pg/wal/00000002.history", b"1\t0/3000100\tno recovery target specified\n")
    plan = plan_restore(repo, catalog, resolve_target(catalog, target_time="2026-01-01T00:05:00Z"))
    assert (plan.required_first, plan.required_last) == ("000000010000000000000002", "000000020000000000000004")
    with pytest.raises(RestoreError, match="after the newest archived WAL"):
        plan_restore(repo, catalog, resolve_target(catalog, target_lsn="0/5000100"))

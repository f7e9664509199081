"""Retention keeps N full backups per engine and only the archive a kept backup needs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    ArchiveRange,
    BackupRecord,
    Catalog,
    RecoveryPointRecord,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.retention import (
    apply_retention,
    plan_retention,
)


def base(repo, n: int, start_segment: int) -> BackupRecord:
    key = f"pg/base/b{n}/base.tar.zst"
    info = repo.put_bytes(key, b"base %d" % n)
    return BackupRecord(backup_id=f"postgres-base-{n}", engine="postgres", kind="base",
                        started_at=f"2026-01-0{n}T00:00:00.000000Z", finished_at=f"2026-01-0{n}T00:10:00.000000Z",
                        size_bytes=info.size, objects=[{"key": key, "size": info.size, "sha256": info.sha256}],
                        archive_start=f"00000000{start_segment:08X}")


def test_keep_one_expires_older_backups_and_only_unneeded_archive(tmp_path):
    repo = open_repository(str(tmp_path / "repo"))
    catalog = Catalog(repo)
    for n, start in ((1, 2), (2, 5), (3, 9)):
        catalog.add_backup(base(repo, n, start))
    for segno in range(2, 12):
        repo.put_bytes(f"pg/wal/00000001{0:08X}{segno:08X}", b"wal")
    repo.put_bytes("pg/wal/00000002.history", b"1\t0/9000000\tx\n")
    repo.put_bytes("pg/wal/000000010000000000000004.00000028.backup", b"label")
    catalog.add_recovery_point(RecoveryPointRecord(name="old", created_at="2026-01-01T12:00:00.000000Z",
                                                   postgres={"lsn": "0/3000000"}))
    catalog.add_recovery_point(RecoveryPointRecord(name="new", created_at="2026-01-03T12:00:00.000000Z",
                                                   postgres={"lsn": "0/A000000"}))
    catalog.add_backup(BackupRecord(backup_id="mongodb-dump-1", engine="mongodb", kind="dump",
                                    started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z",
                                    size_bytes=0, archive_start="0000000100.0000000001"))
    catalog.add_archive_range(ArchiveRange(engine="mongodb", range_id="r1", start="0000000050.0000000000",
                                           end="0000000099.0000000000", keys=["mongodb/changes/r1"]))

    plan = plan_retention(catalog, keep=1)
    assert [b.backup_id for b in plan.expired_backups] == ["postgres-base-1", "postgres-base-2"]
    assert plan.oldest_kept == {"postgres": "postgres-base-3", "mongodb": "mongodb-dump-1"}
    assert [p.name for p in plan.expired_points] == ["old"]
    assert plan.expired_ranges == []  # the only MongoDB dump is kept, and so is its archive
    apply_retention(catalog, plan)

    assert [b.backup_id for b in catalog.backups(engine="postgres")] == ["postgres-base-3"]
    assert repo.head("pg/base/b1/base.tar.zst") is None
    wal = sorted(info.key.rsplit("/", 1)[1] for info in repo.list("pg/wal/"))
    assert wal == ["000000010000000000000009", "00000001000000000000000A", "00000001000000000000000B",
                   "00000002.history"]
    assert [p.name for p in catalog.recovery_points()] == ["new"]


def test_keep_must_be_positive(tmp_path):
    with pytest.raises(RepositoryError):
        plan_retention(Catalog(open_repository(str(tmp_path))), keep=0)


def test_objects_of_interrupted_backups_are_removed_once_old(tmp_path):
    repo = open_repository(str(tmp_path / "repo"))
    catalog = Catalog(repo)
    catalog.add_backup(base(repo, 1, 2))
    repo.put_bytes("pg/base/postgres-base-20200101T000000000000Z-abcdef/base.tar.zst", b"left behind")
    fresh = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    repo.put_bytes(f"pg/base/postgres-base-{fresh}-123456/base.tar.zst", b"in progress")
    plan = plan_retention(catalog, keep=1)
    assert plan.orphans == ["pg/base/postgres-base-20200101T000000000000Z-abcdef/base.tar.zst"]
    apply_retention(catalog, plan)
    assert repo.head(plan.orphans[0]) is None
    assert repo.head(f"pg/base/postgres-base-{fresh}-123456/base.tar.zst") is not None

"""A base backup is checked against its manifest without being extracted: a real pg_basebackup verifies (hashed as
it streams, the same as read afterwards), and a flipped byte, a missing file or an edited manifest is caught naming
what is wrong."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup import tar_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.base_backup import (
    BaseBackupOptions,
    pg_basebackup_argv,
    verify_backup,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.streamed_digest import (
    digest_while_written,
    digest_written,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import client_connection
from tests.support.backup_env import PG_BIN_DIR


@pytest.fixture
def backup_dir(pg_cluster, tmp_path) -> Path:
    client = client_connection(pg_cluster.dsn())
    target = tmp_path / "backup"
    argv = pg_basebackup_argv(BaseBackupOptions(bin_dir=PG_BIN_DIR), client.conninfo, str(target), "verification")
    ClusterOwner(None).run(argv, env=client.env(), what="pg_basebackup")
    tar_archive.compress_file(target / "pg_wal.tar", "zstd")
    return target


def verify(backup: Path) -> None:
    verify_backup(backup, backup / "backup_manifest", PG_BIN_DIR, backup.parent / "verify")


def rewrite_base_tar(backup: Path, edit) -> None:
    """Decompress base.tar.zst, let edit(tar_path) change it, compress it again."""
    plain = backup / "base.tar"
    subprocess.run(["zstd", "-d", "-q", "-f", str(backup / "base.tar.zst"), "-o", str(plain)], check=True)
    edit(plain)
    subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(backup / "base.tar.zst")], check=True)
    plain.unlink()


def test_a_real_backup_verifies_and_nothing_is_left_behind(backup_dir):
    verify(backup_dir)
    assert not (backup_dir.parent / "verify").exists()


def test_a_backup_hashed_while_pg_basebackup_writes_it_verifies_as_read_afterwards(pg_cluster, tmp_path):
    client = client_connection(pg_cluster.dsn())
    target = tmp_path / "streamed"
    argv = pg_basebackup_argv(BaseBackupOptions(bin_dir=PG_BIN_DIR), client.conninfo, str(target), "streamed")
    streamed = digest_while_written(lambda: ClusterOwner(None).run(argv, env=client.env(), what="pg_basebackup"),
                                    target / "base.tar.zst", "zstd")
    assert streamed == digest_written(target / "base.tar.zst")
    assert "PG_VERSION" in streamed.files
    verify_backup(target, target / "backup_manifest", PG_BIN_DIR, tmp_path / "verify", [streamed])


def test_a_flipped_byte_in_a_data_file_is_detected(backup_dir):
    def flip(plain: Path) -> None:
        with tarfile.open(plain) as tar:
            member = next(m for m in tar.getmembers() if m.isfile() and m.name.startswith("base/") and m.size > 0)
        with plain.open("r+b") as handle:
            handle.seek(member.offset_data)
            byte = handle.read(1)
            handle.seek(member.offset_data)
            handle.write(bytes([byte[0] ^ 0xFF]))
        flip.name = member.name

    rewrite_base_tar(backup_dir, flip)
    with pytest.raises(DbopsError, match=rf"checksum mismatch for {flip.name}"):
        verify(backup_dir)


def test_a_file_missing_from_the_tar_is_detected(backup_dir):
    def drop(plain: Path) -> None:
        with tarfile.open(plain) as tar:
            members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
        with tarfile.open(plain, "w") as tar:
            for member, data in members:
                if member.name != "PG_VERSION":
                    tar.addfile(member, None if data is None else io.BytesIO(data))

    rewrite_base_tar(backup_dir, drop)
    with pytest.raises(DbopsError, match=r"missing from the backup, e.g. PG_VERSION"):
        verify(backup_dir)


def test_an_edited_manifest_is_detected(backup_dir):
    manifest = backup_dir / "backup_manifest"
    text = manifest.read_text()
    manifest.write_text(text.replace('"Path": "PG_VERSION", "Size": 3', '"Path": "PG_VERSION", "Size": 4', 1))
    assert manifest.read_text() != text
    with pytest.raises(DbopsError, match="backup manifest checksum mismatch"):
        verify(backup_dir)

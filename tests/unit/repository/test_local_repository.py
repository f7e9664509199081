"""LocalRepository: atomic writes, checksums on every read, interrupted writes read as absent."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    SIDECAR_SUFFIX,
    ChecksumMismatch,
    ObjectMissing,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository


@pytest.fixture
def repo(tmp_path):
    return open_repository(str(tmp_path / "repo"))


def test_put_get_roundtrip(repo, tmp_path):
    source = tmp_path / "segment"
    source.write_bytes(b"x" * 3_000_000)
    info = repo.put_file("pg/wal/000000010000000000000001", source)
    assert info.size == 3_000_000
    assert repo.head(info.key) == info
    assert repo.exists(info.key)
    out = tmp_path / "out" / "seg"
    assert repo.get_file(info.key, out).sha256 == info.sha256
    assert out.read_bytes() == source.read_bytes()
    repo.put_bytes("catalog/a.json", b"{}")
    assert repo.get_bytes("catalog/a.json") == b"{}"
    assert [i.key for i in repo.list("pg/")] == [info.key]
    assert [i.key for i in repo.list("catalog/a")] == ["catalog/a.json"]
    assert len(repo.list()) == 2


def test_corruption_is_detected_naming_the_key(repo, tmp_path):
    repo.put_bytes("backups/b1/base.tar.zst", b"hello world")
    (tmp_path / "repo" / "backups" / "b1" / "base.tar.zst").write_bytes(b"hello worle")
    with pytest.raises(ChecksumMismatch, match="backups/b1/base.tar.zst"):
        repo.get_bytes("backups/b1/base.tar.zst")
    with pytest.raises(ChecksumMismatch, match="backups/b1/base.tar.zst"):
        repo.get_file("backups/b1/base.tar.zst", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_data_without_sidecar_reads_as_absent(repo, tmp_path):
    repo.put_bytes("pg/wal/seg", b"abc")
    (tmp_path / "repo" / "pg" / "wal" / ("seg" + SIDECAR_SUFFIX)).unlink()
    assert repo.head("pg/wal/seg") is None
    assert repo.list("pg/") == []
    with pytest.raises(ObjectMissing):
        repo.get_bytes("pg/wal/seg")
    repo.put_bytes("pg/wal/seg", b"abc")
    assert repo.get_bytes("pg/wal/seg") == b"abc"


def test_delete_is_idempotent(repo):
    repo.put_bytes("k/v", b"1")
    repo.delete("k/v")
    repo.delete("k/v")
    assert repo.head("k/v") is None


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "dir/", "x" + SIDECAR_SUFFIX])
def test_invalid_keys_are_refused(repo, key):
    with pytest.raises(RepositoryError):
        repo.put_bytes(key, b"")


def test_relative_or_unknown_urls_are_refused():
    with pytest.raises(RepositoryError, match="absolute"):
        open_repository("relative/dir")
    with pytest.raises(RepositoryError, match="unsupported"):
        open_repository("gs://bucket/x")

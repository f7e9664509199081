"""The archiver's exit codes: what PostgreSQL needs to retry (push) and to tell "absent" from "broken" (fetch)."""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archiver as wal_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository import s3 as s3_repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import SIDECAR_SUFFIX
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.s3 import S3Repository

SEGMENT = "000000010000000000000007"


@pytest.fixture
def setup(tmp_path):
    repo_dir = tmp_path / "repo"
    config = tmp_path / "archiver.json"
    config.write_text(json.dumps({"repository": str(repo_dir), "push_retry_seconds": 1, "fetch_retry_seconds": 1}))
    segment = tmp_path / "pg_wal" / SEGMENT
    segment.parent.mkdir()
    segment.write_bytes(b"\x01" * 8192)
    return repo_dir, config, segment


def run(config, *args) -> int:
    return wal_archive.main(["--config", str(config), *args])


def test_push_is_idempotent_and_refuses_different_content(setup, capsys):
    repo_dir, config, segment = setup
    assert run(config, "push", str(segment), SEGMENT) == 0
    stored = repo_dir / "pg" / "wal" / SEGMENT
    assert stored.read_bytes() == segment.read_bytes()
    assert (repo_dir / "pg" / "wal" / (SEGMENT + SIDECAR_SUFFIX)).exists()
    # Re-archived after a crash: same bytes, success.
    assert run(config, "push", str(segment), SEGMENT) == 0
    # Different bytes under the same name: refused, the archived copy is kept.
    segment.write_bytes(b"\x02" * 8192)
    assert run(config, "push", str(segment), SEGMENT) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert stored.read_bytes() == b"\x01" * 8192


def test_push_after_an_interrupted_copy_succeeds(setup):
    repo_dir, config, segment = setup
    partial = repo_dir / "pg" / "wal" / SEGMENT
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\x01" * 100)  # data without its checksum: what a crash mid-write leaves
    assert run(config, "push", str(segment), SEGMENT) == 0
    assert partial.read_bytes() == segment.read_bytes()


def test_fetch_exit_codes(setup, tmp_path):
    repo_dir, config, segment = setup
    assert run(config, "push", str(segment), SEGMENT) == 0
    target = tmp_path / "restored" / "RECOVERYXLOG"
    assert run(config, "fetch", SEGMENT, str(target)) == 0
    assert target.read_bytes() == segment.read_bytes()
    assert run(config, "fetch", "00000002.history", str(target)) == 1  # truly absent: PostgreSQL moves on
    (repo_dir / "pg" / "wal" / SEGMENT).write_bytes(b"\x03" * 8192)
    assert run(config, "fetch", SEGMENT, str(tmp_path / "x")) == 255  # corrupted: abort recovery
    assert not (tmp_path / "x").exists()


class UnreachableS3:
    """A boto3 client whose every call fails the way a refused connection does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

        return fail


def test_unreachable_s3_never_reads_as_absent(setup, monkeypatch, tmp_path):
    _repo_dir, config, segment = setup

    def open_unreachable(_config, retry_seconds):
        return S3Repository("bucket", "prefix", client=UnreachableS3(), retry_seconds=retry_seconds)

    monkeypatch.setattr(wal_archive.ArchiverConfig, "open", open_unreachable)
    real_sleep = time.sleep
    # Backoff sleeps shortened (wal_archive and the S3 repository share the time module).
    monkeypatch.setattr(s3_repository.time, "sleep", lambda seconds: real_sleep(min(seconds, 0.01)))
    assert run(config, "push", str(segment), SEGMENT) == 1  # PostgreSQL keeps the segment and retries
    assert run(config, "fetch", SEGMENT, str(tmp_path / "y")) == 255  # not 1: recovery must not end here
    assert run(config, "check") == 1


def wait_for(path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_fetch_into_pg_wal_prefetches_the_next_segments_checked(setup, tmp_path):
    repo_dir, config, segment = setup
    names = wal_archive.next_segment_names(SEGMENT, 8192, 3)
    assert names[0] == "000000010000000000000008"
    assert run(config, "push", str(segment), SEGMENT) == 0
    for index, name in enumerate(names):
        segment.write_bytes(bytes([index + 2]) * 8192)
        assert run(config, "push", str(segment), name) == 0
    # The third one is corrupted in the repository: never spooled, and fetch still refuses it.
    (repo_dir / "pg" / "wal" / names[2]).write_bytes(b"\xff" * 8192)
    pg_wal = tmp_path / "data" / "pg_wal"
    pg_wal.mkdir(parents=True)
    target = pg_wal / "RECOVERYXLOG"
    assert run(config, "fetch", SEGMENT, str(target)) == 0
    spool = pg_wal / wal_archive.PREFETCH_DIR
    assert wait_for(spool / names[1])
    # Taken from the spool: the repository copy is no longer needed.
    (repo_dir / "pg" / "wal" / names[0]).unlink()
    assert run(config, "fetch", names[0], str(target)) == 0
    assert target.read_bytes() == b"\x02" * 8192
    assert not (spool / names[0]).exists()
    assert run(config, "fetch", names[1], str(target)) == 0
    assert target.read_bytes() == b"\x03" * 8192
    assert not (spool / names[2]).exists()
    assert run(config, "fetch", names[2], str(tmp_path / "data" / "pg_wal" / "RECOVERYXLOG")) == 255
    # Truly absent after the spool ran dry: still "no such file".
    assert run(config, "fetch", "000000010000000000000010", str(target)) == 1


def test_next_segment_names_cross_the_log_id_boundary():
    assert wal_archive.next_segment_names("0000000200000003000000FE", 16 << 20, 3) == [
        "0000000200000003000000FF", "000000020000000400000000", "000000020000000400000001"]

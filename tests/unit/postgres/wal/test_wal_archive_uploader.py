"""archive_command with the uploader: 0 only on the uploader's ok for this very file, read-ahead of ready segments,
an error verdict or no verdict is non-zero, no uploader at all means the command uploads its segment itself."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archiver as wal_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_spool import (
    Archived,
    ArchiveSpool,
    SourceIdentity,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_uploader import (
    Uploader,
    hold_lock,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.local import LocalRepository
from tests.support.wal_archiver import SYSTEM_PYTHON, install_archiver

SEGMENT_SIZE = 64 * 1024


@dataclass
class Setup:
    repo_dir: Path
    pg_wal: Path
    spool: ArchiveSpool
    config: Path
    names: list[str]

    def push(self, name: str) -> int:
        return wal_archive.main(["--config", str(self.config), "push", str(self.pg_wal / name), name])


@pytest.fixture
def setup(tmp_path) -> Setup:
    repo_dir, pg_wal, spool = tmp_path / "repo", tmp_path / "pg_wal", tmp_path / "spool"
    (pg_wal / "archive_status").mkdir(parents=True)
    names = wal_archive.next_segment_names("000000010000000000000000", SEGMENT_SIZE, 6)
    for index, name in enumerate(names):
        (pg_wal / name).write_bytes(bytes([index + 1]) * SEGMENT_SIZE)
        (pg_wal / "archive_status" / f"{name}.ready").touch()
    config = tmp_path / "archiver.json"
    config.write_text(json.dumps({"repository": str(repo_dir), "spool_dir": str(spool), "push_retry_seconds": 1,
                                  "push_wait_seconds": 5, "uploader_grace_seconds": 1}))
    return Setup(repo_dir, pg_wal, ArchiveSpool(spool), config, names)


class FailingRepository(LocalRepository):
    """A local repository whose uploads fail, as a bucket that refuses writes does."""

    def put_file(self, key, path):
        raise RepositoryError(f"upload of {key} refused")


@contextmanager
def running_uploader(setup: Setup, repository_class=LocalRepository) -> Iterator[Uploader]:
    stop = threading.Event()
    uploader = Uploader(setup.spool, lambda: repository_class(setup.repo_dir), workers=3)
    thread = threading.Thread(target=uploader.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not setup.spool.uploader_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield uploader
    finally:
        stop.set()
        thread.join(timeout=10)


def archived(setup: Setup, name: str) -> bytes | None:
    path = setup.repo_dir / "pg" / "wal" / name
    return path.read_bytes() if path.exists() else None


def test_push_waits_for_the_upload_and_the_uploader_reads_ahead(setup):
    with running_uploader(setup) as uploader:
        assert setup.push(setup.names[0]) == 0
        # Acknowledged means in the repository, with its checksum.
        assert archived(setup, setup.names[0]) == (setup.pg_wal / setup.names[0]).read_bytes()
        deadline = time.monotonic() + 10
        while uploader.stats.uploaded < len(setup.names) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert uploader.stats.read_ahead >= len(setup.names) - 1
        for name in setup.names[1:]:
            assert archived(setup, name) == (setup.pg_wal / name).read_bytes()
            assert isinstance(setup.spool.verdict(name), Archived)  # waiting for PostgreSQL's call
            assert setup.push(name) == 0
            assert setup.spool.verdict(name) is None  # acknowledged: the verdict is gone
    assert uploader.stats.uploaded == len(setup.names) and uploader.stats.failed == 0


def test_a_verdict_on_another_file_of_that_name_is_not_taken(setup):
    name = setup.names[0]
    other = SourceIdentity(0, 0, SEGMENT_SIZE, 0)
    setup.spool.create()
    setup.spool.record_ok(Archived(name, "0" * 64, SEGMENT_SIZE, other))
    with running_uploader(setup):
        assert setup.push(name) == 0
    assert archived(setup, name) == (setup.pg_wal / name).read_bytes()


def test_a_failed_upload_fails_push_and_nothing_is_acknowledged(setup, capsys):
    with running_uploader(setup, FailingRepository):
        assert setup.push(setup.names[0]) == 1
    assert "refused" in capsys.readouterr().err
    assert archived(setup, setup.names[0]) is None
    assert setup.spool.verdict(setup.names[0]) is None  # consumed: the retry asks again


def test_different_content_already_archived_is_refused_through_the_uploader(setup, capsys):
    name = setup.names[0]
    LocalRepository(setup.repo_dir).put_bytes(f"pg/wal/{name}", b"other cluster" * 100)
    with running_uploader(setup):
        assert setup.push(name) == 1
    assert "refusing to overwrite" in capsys.readouterr().err


def test_no_verdict_in_time_fails_push(setup, tmp_path):
    config = json.loads(setup.config.read_text())
    # An uploader holds the lock but never answers (stopped, or stuck on a hung connection).
    setup.spool.create()
    lock = hold_lock(setup.spool)
    try:
        setup.config.write_text(json.dumps({**config, "push_wait_seconds": 0.3}))
        assert setup.push(setup.names[0]) == 1
    finally:
        lock.close()
    assert archived(setup, setup.names[0]) is None


def test_without_an_uploader_push_uploads_itself(setup, capsys):
    assert setup.push(setup.names[0]) == 0
    assert archived(setup, setup.names[0]) == (setup.pg_wal / setup.names[0]).read_bytes()
    assert "no uploader is running" in capsys.readouterr().err
    assert setup.spool.requests() == {}


@pytest.fixture
def installed_push(setup) -> Iterator[list[str]]:
    """archive_command as the installed archiver writes it with a spool, split for subprocess."""
    archiver = install_archiver()
    try:
        config = json.loads(setup.config.read_text())
        archiver.write_config(config)
        spec = archiver.spec()
        yield [SYSTEM_PYTHON, "-S", spec.push_script, "--spool", config["spool_dir"], "--wait", "5", "--grace",
               "0.5", "--config", spec.config_file]
    finally:
        archiver.destroy()


def test_the_installed_hand_off_imports_no_more_than_it_needs(installed_push):
    lib = Path(installed_push[2]).parent.parent / "lib"
    module = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_handoff"
    modules = subprocess.run(
        [SYSTEM_PYTHON, "-S", "-c", f"import sys; sys.path.insert(0, {str(lib)!r}); import {module}; "
         "print(' '.join(sorted(sys.modules)))"], capture_output=True, text=True, check=True).stdout.split()
    assert module in modules
    for heavy in ("boto3", "botocore", "json", "typing", "dataclasses", "argparse", "pathlib", "tempfile"):
        assert heavy not in modules, f"the hand-off imports {heavy}"


def test_the_installed_hand_off_with_and_without_an_uploader(setup, installed_push):
    with running_uploader(setup):
        done = subprocess.run([*installed_push, str(setup.pg_wal / setup.names[0]), setup.names[0]],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert archived(setup, setup.names[0]) == (setup.pg_wal / setup.names[0]).read_bytes()
    # No uploader: after the grace period the command becomes the one-process archiver.
    late = wal_archive.next_segment_names(setup.names[-1], SEGMENT_SIZE, 1)[0]
    (setup.pg_wal / late).write_bytes(b"\x09" * SEGMENT_SIZE)
    done = subprocess.run([*installed_push, str(setup.pg_wal / late), late], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"archiving {late} directly" in done.stderr
    assert archived(setup, late) == b"\x09" * SEGMENT_SIZE

"""restore_command's fast path (dbops-wal-fetch): a prefetched segment is renamed into place by a Python without
site-packages; anything else goes to the archiver's fetch and its exit codes."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archiver as wal_archive
from tests.support.wal_archiver import SYSTEM_PYTHON, install_archiver

SEGMENT_SIZE = 64 * 1024
FIRST = "000000010000000000000010"


@pytest.fixture
def restore_command(tmp_path) -> Iterator[tuple[str, list[str]]]:
    """(the restore_command line, the segments archived) with a local repository."""
    repo_dir = tmp_path / "repo"
    names = [FIRST, *wal_archive.next_segment_names(FIRST, SEGMENT_SIZE, 3)]
    config = {"repository": str(repo_dir), "spool_dir": str(tmp_path / "spool"), "fetch_prefetch": 2,
              "fetch_retry_seconds": 1}
    (tmp_path / "archiver.json").write_text(json.dumps(config))
    for index, name in enumerate(names):
        source = tmp_path / name
        source.write_bytes(bytes([index + 1]) * SEGMENT_SIZE)
        assert wal_archive.main(["--config", str(tmp_path / "archiver.json"), "push", "--direct", str(source),
                                 name]) == 0
    archiver = install_archiver()
    try:
        archiver.write_config(config)
        yield archiver.spec().restore_command(), names
    finally:
        archiver.destroy()


def fetch(command: str, name: str, target: Path) -> subprocess.CompletedProcess:
    line = command.replace("%f", name).replace("%p", str(target))
    return subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=False)


def wait_for(path: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_prefetched_segments_are_renamed_the_rest_fetched(restore_command, tmp_path):
    command, names = restore_command
    assert "dbops-wal-fetch" in command and " -S " in command
    pg_wal = tmp_path / "data" / "pg_wal"
    pg_wal.mkdir(parents=True)
    target = pg_wal / "RECOVERYXLOG"
    # Nothing prefetched yet: the archiver fetches it, then copies the next ones ahead.
    done = fetch(command, names[0], target)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == b"\x01" * SEGMENT_SIZE
    spool = pg_wal / wal_archive.PREFETCH_DIR
    assert wait_for(spool / names[1]) and wait_for(spool / names[2])
    # Prefetched: renamed into place.
    done = fetch(command, names[1], target)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == b"\x02" * SEGMENT_SIZE
    assert not (spool / names[1]).exists()
    # Half of what is ahead was taken: the background copy tops the spool up.
    assert wait_for(spool / names[3])
    # Absent from the archive: exit 1 from the archiver's fetch (the end of the archive).
    missing = wal_archive.next_segment_names(names[-1], SEGMENT_SIZE, 1)[0]
    assert fetch(command, missing, tmp_path / "x").returncode == 1
    assert fetch(command, "00000002.history", tmp_path / "x").returncode == 1


def test_the_fast_path_imports_no_more_than_it_needs(restore_command):
    command, _names = restore_command
    script = Path(command.split()[2])
    lib = script.parent.parent / "lib"
    module = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.prefetched_fetch"
    modules = subprocess.run(
        [SYSTEM_PYTHON, "-S", "-c", f"import sys; sys.path.insert(0, {str(lib)!r}); import {module}; "
         "print(' '.join(sorted(sys.modules)))"], capture_output=True, text=True, check=True).stdout.split()
    assert module in modules
    for heavy in ("boto3", "json", "typing", "dataclasses", "argparse", "pathlib", "tempfile", "hashlib"):
        assert heavy not in modules, f"the fast path imports {heavy}"

"""The progress file of work without a database table: rewritten whole, read with its watched directory measured."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.progress_file import (
    ProgressFile,
    read_progress_file,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord


def test_a_watched_directory_is_the_bytes_done_when_read(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    progress = ProgressFile(str(tmp_path / "jobs" / "progress.json"))
    record = ProgressRecord(kind="restore", name="postgres 20261203T1000", unit="bytes", done=0, total=10_000,
                            detail="fetching the base backup")
    progress.put(record, watch_dir=str(staging))
    (staging / ".tmp-base.tar.zst").write_bytes(b"x" * 2_500)

    (read,) = read_progress_file(progress.path)
    assert (read.done, read.total, read.detail) == (2_500, 10_000, "fetching the base backup")

    progress.put(ProgressRecord(kind="restore", name="postgres 20261203T1000", unit="bytes", done=10_000,
                                total=10_000, detail="recovering", status="running"))
    (read,) = read_progress_file(progress.path)
    assert (read.done, read.detail) == (10_000, "recovering")  # the same work: its record replaced, not added
    assert not [path for path in (tmp_path / "jobs").iterdir() if path.name != "progress.json"]


def test_no_file_no_path_no_records(tmp_path):
    assert read_progress_file(str(tmp_path / "missing.json")) == []
    ProgressFile(None).put(ProgressRecord(kind="restore", name="x", unit="bytes"))  # writes nothing, fails nothing
    (tmp_path / "broken.json").write_text("{half")
    assert read_progress_file(str(tmp_path / "broken.json")) == []

"""A progress file written at most once a second, and the documents record of a MongoDB dump or restore."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.document_progress import DocumentProgress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.progress_file import read_progress_file
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.rate import progress_line
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.throttle import ThrottledProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reports_between_two_seconds_are_kept_not_written(tmp_path):
    clock = Clock()
    path = str(tmp_path / "progress.json")
    progress = DocumentProgress(ThrottledProgress(path, clock=clock), "dump", "mongodb shop", total=3_000,
                                collections=2)
    progress.start_collection("orders")  # a change of collection is written at once
    writes = progress.progress.writes
    progress.add(1_000)
    for _document in range(500):
        progress.add(1)
    assert progress.progress.writes == writes  # the same second: nothing rewritten
    (read,) = read_progress_file(path)
    assert read.done == 0 and read.detail == "orders, 0 of 2 collections"

    clock.now += 1.0
    progress.add(500)
    (read,) = read_progress_file(path)
    assert (read.kind, read.name, read.unit, read.done, read.total) == ("dump", "mongodb shop", "documents", 2_000,
                                                                        3_000)
    progress.end_collection(bytes_written=3 * 1024 * 1024)
    progress.start_collection("users")
    (read,) = read_progress_file(path)
    assert read.detail == "users, 1 of 2 collections, 3.0 MiB written"
    assert progress_line((clock.now - 2, read), (clock.now, read)).text().startswith("dump mongodb shop (users, ")


def test_the_end_is_written_whatever_the_clock_says(tmp_path):
    clock = Clock()
    path = str(tmp_path / "progress.json")
    progress = DocumentProgress(ThrottledProgress(path, clock=clock), "restore", "mongodb shop", total=10,
                                collections=1)
    progress.start_collection("orders")
    progress.add(10)
    progress.finish("restored shop")
    (read,) = read_progress_file(path)
    assert (read.status, read.done, read.detail) == ("done", 10, "restored shop")
    expected = "restore mongodb shop (restored shop): 100% 10 documents of ~10 documents done"
    assert progress_line(None, (clock.now, read)).text() == expected


def test_no_path_no_file_and_no_work(tmp_path):
    throttle = ThrottledProgress(None)
    progress = DocumentProgress(throttle, "dump", "mongodb shop", total=None, collections=1)
    assert list(progress.counted(iter([1, 2, 3]))) == [1, 2, 3]
    progress.finish("done")
    assert progress.done == 3 and throttle.writes == 0 and not throttle.due()
    assert not list(tmp_path.iterdir())

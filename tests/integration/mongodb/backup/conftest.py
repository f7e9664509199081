"""Fixtures for the MongoDB backup tests: a client on the session's SecantusDB, a local repository, a capture."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import ChangeCapture
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository


@pytest.fixture
def mclient(mongo_server):
    from pymongo import MongoClient

    client = MongoClient(mongo_server, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def repo(tmp_path):
    return open_repository(str(tmp_path / "repo"))


class RunningCapture:
    """A ChangeCapture on a thread, as the daemon runs it, stoppable from the test."""

    def __init__(self, uri: str, repository, database: str, **options) -> None:
        self.capture = ChangeCapture(uri, repository, database, flush_interval_s=0.2, await_ms=200,
                                     checkpoint_interval_s=0.2, **options)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.stats = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.stats = self.capture.run(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def start(self) -> RunningCapture:
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=30)
        if self.error:
            raise self.error
        return self.stats


@pytest.fixture
def start_capture(mongo_server) -> Iterator:
    running: list[RunningCapture] = []

    def start(repository, database: str, **options) -> RunningCapture:
        item = RunningCapture(mongo_server, repository, database, **options).start()
        running.append(item)
        return item

    yield start
    for item in running:
        item.stop_event.set()
        item.thread.join(timeout=30)

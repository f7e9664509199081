"""The change capture as a separate process: kill -9 under write load, restart, and nothing is missing or doubled."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import bson
import pytest
from bson import Timestamp
from bson.raw_bson import RawBSONDocument

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import change_archive as archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import (
    CaptureHistoryLost,
    ChangeCapture,
    capture_status,
    flush_until,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import database_digests
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import take_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.recovery_time import (
    current_cluster_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore

ROOT = Path(__file__).resolve().parents[4]
DAEMON = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture_daemon"


def start_daemon(uri: str, repo_path: str, database: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DBOPS_MONGODB_URI": uri, "PYTHONPATH": str(ROOT / "build")}
    return subprocess.Popen(
        [sys.executable, "-m", DAEMON, "--repository", repo_path, "--database", database, "--flush-interval", "0.2",
         "--chunk-max-entries", "40", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def kill9(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for_chunks(repo, database: str, more_than: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(archive.list_chunks(repo, database))
        if count > more_than:
            return count
        time.sleep(0.05)
    raise AssertionError(f"capture wrote no chunk beyond {more_than} in {timeout}s")


class Writer(threading.Thread):
    """Inserts, updates, deletes and small transactions, spread over a few seconds."""

    def __init__(self, client, database: str, count: int) -> None:
        super().__init__(daemon=True)
        self.db, self.count, self.error = client[database], count, None

    def run(self) -> None:
        try:
            for i in range(self.count):
                self.db.seq.insert_one({"_id": i, "v": 0})
                if i % 3 == 0:
                    self.db.seq.update_one({"_id": i // 2}, {"$inc": {"v": 1}, "$push": {"h": i}})
                if i % 7 == 0 and i:
                    self.db.seq.delete_one({"_id": i - 5})
                if i % 50 == 0:
                    with self.db.client.start_session() as session, session.start_transaction():
                        self.db.ledger.insert_one({"_id": i, "debit": i}, session=session)
                        self.db.ledger.insert_one({"_id": -i - 1, "credit": i}, session=session)
                        self.db.seq.update_one({"_id": 0}, {"$inc": {"tx": 1}}, session=session)
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def archived_entries(repo, database: str, begin: Timestamp) -> tuple[list[bytes], archive.Coverage]:
    chunks = archive.list_chunks(repo, database)
    coverage = archive.coverage_from(chunks, begin, archive.read_checkpoint(repo, database))
    entries, floor = [], begin
    for chunk in coverage.chunks:
        for raw in bson.decode_file_iter(gzip.GzipFile(fileobj=_bytes_io(repo.get_bytes(chunk.key))),
                                         codec_options=bson.CodecOptions(document_class=RawBSONDocument)):
            assert chunk.start < raw["ts"] <= chunk.end, chunk.range_id
            if raw["ts"] > floor:
                entries.append(raw.raw)
        floor = max(floor, chunk.end)
    return entries, coverage


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


def identity(raw: bytes) -> tuple:
    entry = bson.decode(raw)
    key = (entry.get("o2") or entry.get("o") or {}).get("_id")
    return entry["ts"], entry["op"], entry["ns"], repr(key)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["oplog", "change_stream"])
def test_kill_9_of_the_capture_resumes_without_gap_or_duplicate(mongo_server, mclient, mongo_db_name, repo, mode):
    db = mclient[mongo_db_name]
    db.seq.insert_one({"_id": "seed"})
    dumped = take_dump(mongo_server, repo, mongo_db_name)
    begin = Timestamp(dumped.cluster_time["t"], dumped.cluster_time["i"])
    writer = Writer(mclient, mongo_db_name, 1200)
    process = start_daemon(mongo_server, str(repo.root), mongo_db_name, "--mode", mode)
    writer.start()
    try:
        chunks = wait_for_chunks(repo, mongo_db_name, 1)
        kill9(process)  # mid-stream: its buffer is lost, the committed chunks are not
        time.sleep(0.4)  # writes go on while no capture runs
        process = start_daemon(mongo_server, str(repo.root), mongo_db_name, "--mode", mode)
        chunks = wait_for_chunks(repo, mongo_db_name, chunks + 1)
        kill9(process)
        process = start_daemon(mongo_server, str(repo.root), mongo_db_name, "--mode", mode)
        writer.join(timeout=60)
        assert writer.error is None, writer.error
        point = current_cluster_time(mongo_server, mongo_db_name)
        flush_until(repo, mongo_db_name, point["cluster_time"], timeout_s=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code == 0, process.stderr.read().decode()[-3000:]
    lines = [json.loads(line) for line in process.stderr.read().decode().splitlines()]
    assert lines[0]["event"] == "capture_resume" and lines[0]["resumed"] is True
    assert lines[-1]["event"] == "capture_stopped"

    # The archive holds exactly the database's oplog entries after the dump, each once, in order.
    end = Timestamp(point["cluster_time"]["t"], point["cluster_time"]["i"])
    entries, coverage = archived_entries(repo, mongo_db_name, begin)
    assert coverage.gap_after is None and coverage.end >= end
    oplog = mclient.local.get_collection("oplog.rs", codec_options=bson.CodecOptions(
        document_class=RawBSONDocument))
    expected = [raw.raw for raw in oplog.find({"ts": {"$gt": begin, "$lte": coverage.end}})
                if raw["ns"].startswith(mongo_db_name + ".")]
    got, want = [identity(e) for e in entries], [identity(e) for e in expected]
    if got != want:  # pragma: no cover - diagnostics
        bounds = [(c.start, c.end, c.count) for c in coverage.chunks]
        raise AssertionError(f"missing {[w for w in want if w not in set(got)][:10]} "
                             f"extra {[g for g in got if g not in set(want)][:10]} chunks {bounds}")
    assert len(got) == len(set(got)) > 1200  # each change once
    if mode == "oplog":
        assert entries == expected  # byte for byte the server's oplog entries
    status = capture_status(repo, mongo_db_name)
    assert status["gaps"] == [] and status["chunks"] >= 3

    # And it replays to the source's state.
    source = database_digests(mclient, mongo_db_name)
    result = restore.restore(mongo_server, repo, mongo_db_name, point, target_database=mongo_db_name + "_pitr")
    assert result.verified
    assert database_digests(mclient, mongo_db_name + "_pitr") == source


def test_resuming_after_the_oplog_moved_on_fails_clearly(tmp_path, repo):
    from pymongo import MongoClient
    from secantus import SecantusDBServer

    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=":memory:", oplog_max_entries=200)
    server.start()
    uri = server.uri() if callable(server.uri) else server.uri
    client = MongoClient(uri)
    try:
        client.app.items.insert_many([{"_id": i} for i in range(10)])
        take_dump(uri, repo, "app")
        ChangeCapture(uri, repo, "app", await_ms=100).run(until=current_cluster_time(uri, "app")["cluster_time"])
        resume_point = archive.read_checkpoint(repo, "app").chain_end
        # far more than the oplog keeps (SecantusDB prunes every 1000 writes), while no capture runs
        client.app.items.insert_many([{"_id": f"n{i}"} for i in range(1500)])
        oldest = client.local["oplog.rs"].find_one({}, sort=[("$natural", 1)])["ts"]
        assert oldest > resume_point, "the server did not prune its oplog"
        with pytest.raises(CaptureHistoryLost, match="oldest oplog entry is .* gap"):
            ChangeCapture(uri, repo, "app").run(max_seconds=5)
        # the daemon says the same and exits 2
        process = start_daemon(uri, str(repo.root), "app", "--max-seconds", "5")
        assert process.wait(timeout=60) == 2
        assert "capture_history_lost" in process.stderr.read().decode()
        assert archive.read_checkpoint(repo, "app").chain_end == resume_point  # nothing was written past the gap
    finally:
        client.close()
        server.stop()

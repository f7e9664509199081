"""The progress readers against real work on a real server: a throttled base backup, a slow COPY, a logical slot
falling behind. Each is read while it runs, as the poller reads them."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.progress_info import (
    ProgressRequest,
    read_progress,
)
from tests.support.pg_cluster import PgCluster, new_cluster


def read(dsn: str, *sources: str) -> list[dict]:
    return read_progress(ProgressRequest(DatabaseConnections(postgres_dsn=dsn), sources=sources)).records


def wait_for(dsn: str, source: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = read(dsn, source)
        if records and (records[0].get("done") or records[0].get("remaining")):
            return records
        time.sleep(0.1)
    pytest.fail(f"no {source} progress within {timeout} s")


def test_a_base_backup_is_read_from_the_servers_own_progress_view(pg_cluster, tmp_path):
    target = tmp_path / "backup"
    # --max-rate throttles on the server: the backup takes seconds, long enough to be seen streaming.
    backup = subprocess.Popen([pg_cluster.bin("pg_basebackup"), "-d", pg_cluster.dsn(), "-D", str(target), "-F", "t",
                               "-X", "none", "--max-rate=2M", "--no-sync", "--no-manifest"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        (record,) = wait_for(pg_cluster.dsn(), "base_backup")
        assert record["kind"] == "base_backup" and record["unit"] == "bytes"
        assert 0 < record["done"] < record["total"], record
        assert record["detail"] == "streaming database files"
    finally:
        backup.kill()
        backup.communicate()


def test_a_copy_is_read_with_its_bytes_and_rows(pg_db):
    def slow_copy() -> None:
        # About 3 s: a millisecond per row.
        with psycopg.connect(pg_db) as conn, conn.cursor() as cursor, cursor.copy(
                "COPY (SELECT g, pg_sleep(0.001) FROM generate_series(1, 3000) AS g) TO STDOUT") as copy:
            for _data in copy:
                pass

    worker = threading.Thread(target=slow_copy)
    worker.start()
    try:
        records = wait_for(pg_db, "copy")
        assert records[0]["kind"] == "copy" and records[0]["unit"] == "bytes" and records[0]["done"] > 0
        assert records[0]["total"] is None and " rows" in records[0]["detail"]
    finally:
        worker.join(timeout=30)


@pytest.fixture
def logical_cluster(tmp_path) -> Iterator[PgCluster]:
    cluster = new_cluster(extra_conf={"wal_level": "logical", "max_replication_slots": "4"})
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_a_logical_slot_behind_its_source_is_read_as_bytes_remaining(logical_cluster):
    dsn = logical_cluster.dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('dbops_cutover_blue_to_green', 'pgoutput')")
        conn.execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) AS g")
    (record,) = read(dsn, "replication")
    assert record["kind"] == "replication" and record["name"] == "dbops_cutover_blue_to_green"
    assert record["remaining"] > 1_000_000 and record["detail"] == "slot inactive"
    assert read(dsn, "backfills") == []  # no ledger on this server: nothing backfilled, nothing to read

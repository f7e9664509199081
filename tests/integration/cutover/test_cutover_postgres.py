"""The PostgreSQL half of the cutover's groundwork on real servers: a logical subscriber waited for with a
position taken after a write, and PgBouncer (transaction pooling) retargeted from blue to green under a client."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.pgbouncer_switch import (
    PauseTimedOut,
    PgbouncerSwitchRequest,
    switch_pgbouncer,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.replication_sync import (
    ReplicationSyncRequest,
    sync_replica,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import format_lsn, parse_lsn
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.postgres_lag import ReplicaNotFound
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.wait import ReplicationTimeout
from tests.integration.cutover.conftest import APP_DB, SUBSCRIPTION, BlueGreenClusters
from tests.support.ansible_cli import run_module
from tests.support.pgbouncer_server import PgBouncer, database_entry, destroy_pgbouncer, new_pgbouncer


def _logical(clusters: BlueGreenClusters, **options) -> ReplicationSyncRequest:
    return ReplicationSyncRequest(kind="logical", source=DatabaseConnections(postgres_dsn=clusters.app_dsn(
        clusters.blue)), replica_name=SUBSCRIPTION, poll_interval=0.1, **options)


def test_logical_subscriber_reaches_the_position_taken_after_a_write(blue_green: BlueGreenClusters) -> None:
    blue, green = blue_green.blue, blue_green.green
    blue.psql("INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 2000) g", APP_DB)
    target = blue.psql("SELECT pg_current_wal_lsn()", APP_DB)

    checked = sync_replica(_logical(blue_green, target_lsn=target, check_mode=True))
    assert checked.waited_ms == 0 and checked.changed is False
    assert checked.lag_bytes is not None and checked.target_position == format_lsn(parse_lsn(target))

    synced = sync_replica(_logical(blue_green, target_lsn=target, timeout=30))
    assert synced.caught_up and parse_lsn(synced.replica_position) >= parse_lsn(target)
    assert green.psql("SELECT count(*) FROM orders", APP_DB) == "2000"
    assert any("pg_replication_slots" in query for query in synced.queries)

    # Without a target: caught up with what the source had written when the wait began.
    assert sync_replica(_logical(blue_green, timeout=30)).caught_up


def test_the_standby_reader_runs_on_a_real_pg_stat_replication(blue_green: BlueGreenClusters) -> None:
    # No physical standby here: the subscription's walsender row stands in (same view, same columns).
    read = sync_replica(ReplicationSyncRequest(
        kind="physical", source=DatabaseConnections(postgres_dsn=blue_green.app_dsn(blue_green.blue)),
        replica_name=SUBSCRIPTION, max_lag_bytes=1 << 30, check_mode=True))
    assert read.caught_up and read.lag_bytes is not None and read.target_position is None
    assert "pg_stat_replication" in read.queries[0]


def test_a_target_never_reached_times_out_with_the_last_lag(blue_green: BlueGreenClusters) -> None:
    beyond = format_lsn(parse_lsn(blue_green.blue.psql("SELECT pg_current_wal_lsn()")) + (1 << 40))
    started = time.monotonic()
    with pytest.raises(ReplicationTimeout) as raised:
        sync_replica(_logical(blue_green, target_lsn=beyond, timeout=1))
    assert time.monotonic() - started < 5
    assert raised.value.reading.lag_bytes is not None and "did not catch up within 1s" in str(raised.value)
    with pytest.raises(ReplicaNotFound):
        sync_replica(ReplicationSyncRequest(kind="logical", source=DatabaseConnections(
            postgres_dsn=blue_green.app_dsn(blue_green.blue)), replica_name="no_such_slot"))


def test_the_module_reports_the_lag_in_check_mode(blue_green: BlueGreenClusters) -> None:
    run = run_module("sevenp.dbops.replication_sync", {
        "postgres_dsn": blue_green.app_dsn(blue_green.blue), "kind": "logical", "replica_name": SUBSCRIPTION,
        "max_lag_seconds": 3600}, "--check")
    assert run.returncode == 0, run.output
    assert run.result["changed"] is False and run.result["caught_up"] is True and run.result["waited_ms"] == 0
    assert "dbops-test-secret" not in run.output


@pytest.fixture
def bouncer(blue_green: BlueGreenClusters) -> Iterator[PgBouncer]:
    blue = blue_green.blue
    started = new_pgbouncer({APP_DB: database_entry(blue.host, blue.port, APP_DB), "other": database_entry(
        blue.host, blue.port, "postgres")})
    try:
        yield started
    finally:
        destroy_pgbouncer(started)


def _switch(bouncer: PgBouncer, action: str, **options) -> dict:
    request = PgbouncerSwitchRequest(admin_dsn=bouncer.admin_dsn, action=action, database=APP_DB, **options)
    return switch_pgbouncer(request).as_dict()


class SideWatcher:
    """A client that keeps asking, through PgBouncer, which side it is on, until stopped."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.sides: list[str] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # prepare_threshold=None: no server-side prepared statements under transaction pooling.
        with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
            while not self.stopping.is_set():
                try:
                    self.sides.append(conn.execute("SELECT side FROM colour").fetchone()[0])
                except psycopg.Error as exc:
                    self.errors.append(str(exc))
                time.sleep(0.01)

    def wait_for(self, side: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while side not in self.sides:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the client never reached {side}: {self.sides[-5:]} {self.errors[-3:]}")
            time.sleep(0.02)


def test_pgbouncer_is_retargeted_to_green_while_a_client_runs_queries(
        blue_green: BlueGreenClusters, bouncer: PgBouncer) -> None:
    green = blue_green.green
    before = bouncer.ini.read_text().splitlines()
    mode = stat.S_IMODE(bouncer.ini.stat().st_mode)
    watcher = SideWatcher(bouncer.dsn(APP_DB))
    watcher.thread.start()
    try:
        watcher.wait_for("blue")
        retarget = {"config": str(bouncer.ini), "target_host": green.host, "target_port": green.port,
                    "target_dbname": APP_DB}
        planned = _switch(bouncer, "retarget", check_mode=True, **retarget)
        assert planned["changed"] and planned["queries"][-1] == "RELOAD"
        assert bouncer.ini.read_text().splitlines() == before

        assert _switch(bouncer, "pause")["database"]["paused"] is True
        switched = _switch(bouncer, "retarget", **retarget)
        assert switched["changed"] and switched["database"]["port"] == green.port
        assert any(query.startswith("rewrite ") for query in switched["queries"])
        assert "dbops-test-secret" not in " ".join(switched["queries"])
        assert _switch(bouncer, "resume")["database"]["paused"] is False
        watcher.wait_for("green")
    finally:
        watcher.stopping.set()
        watcher.thread.join(10)
    assert watcher.errors == []
    first_green = watcher.sides.index("green")
    assert set(watcher.sides[first_green:]) == {"green"} and set(watcher.sides[:first_green]) == {"blue"}

    after = bouncer.ini.read_text().splitlines()
    changed = [index for index, (old, new) in enumerate(zip(before, after, strict=True)) if old != new]
    assert len(changed) == 1 and f"port={green.port}" in after[changed[0]]
    assert stat.S_IMODE(bouncer.ini.stat().st_mode) == mode
    again = _switch(bouncer, "retarget", **retarget)
    assert again["changed"] is False and again["queries"] == ["SHOW DATABASES"]
    assert _switch(bouncer, "resume")["changed"] is False


def test_a_pause_held_up_by_an_open_transaction_times_out_and_is_resumed(bouncer: PgBouncer) -> None:
    holder = psycopg.connect(bouncer.dsn(APP_DB), prepare_threshold=None)
    try:
        holder.execute("SELECT side FROM colour")  # a transaction left open holds its server connection
        started = time.monotonic()
        with pytest.raises(PauseTimedOut, match="did not complete within 1s"):
            _switch(bouncer, "pause", timeout=1)
        assert time.monotonic() - started < 5
        status = _switch(bouncer, "status")
        assert status["database"]["paused"] is False
        with psycopg.connect(bouncer.dsn(APP_DB), autocommit=True, prepare_threshold=None) as other:
            assert other.execute("SELECT side FROM colour").fetchone() == ("blue",)
    finally:
        holder.rollback()
        holder.close()


def test_the_pgbouncer_module_plans_in_check_mode(blue_green: BlueGreenClusters, bouncer: PgBouncer) -> None:
    green = blue_green.green
    content = bouncer.ini.read_text()
    run = run_module("sevenp.dbops.pgbouncer_switch", {
        "admin_dsn": bouncer.admin_dsn, "database": APP_DB, "action": "retarget", "config": str(bouncer.ini),
        "target_host": green.host, "target_port": green.port, "target_dbname": APP_DB}, "--check")
    assert run.returncode == 0, run.output
    assert run.result["changed"] is True and run.result["queries"][-1] == "RELOAD"
    assert run.result["database"]["port"] == blue_green.blue.port
    assert bouncer.ini.read_text() == content

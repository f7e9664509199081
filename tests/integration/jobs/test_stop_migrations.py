"""The migration_stop engine against real servers: a MongoDB runner reads the stop request in its lock and stops;
a lock owner on this host that does not is signalled and waited for; one on another host is asked and reported, an
expired lock is left alone; check mode only reports; with no runner on PostgreSQL nothing is done."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.stop_migrations import (
    StopMigrationsRequest,
    stop_migrations,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import (
    LockLost,
    RunnerLock,
    server_now,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.advisory_lock import RUNNER_LOCK_KEY


@pytest.fixture
def lock_owner() -> Iterator[subprocess.Popen]:
    """A process standing in for a migrate run; reaped as soon as it ends, so it does not linger as a zombie."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    threading.Thread(target=process.wait, daemon=True).start()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()


def hold_lock(uri: str, database: str, host: str, pid: int, ttl_s: float = 60) -> None:
    with pymongo.MongoClient(uri) as client:
        db = client[database]
        now = server_now(db)
        db.dbops_lock.replace_one({"_id": "migrations"}, {
            "owner": f"{host}:{pid}:test", "host": host, "pid": pid, "acquired_at": now, "renewed_at": now,
            "expires_at": now + timedelta(seconds=ttl_s)}, upsert=True)


def request(uri: str, database: str, **overrides) -> StopMigrationsRequest:
    fields = {"wait_timeout": 10.0, **overrides}
    return StopMigrationsRequest(databases=DatabaseConnections(mongodb_uri=uri, mongodb_database=database), **fields)


def test_a_local_lock_owner_is_signalled_and_check_mode_only_reports(mongo_server, mongo_db_name, lock_owner):
    hold_lock(mongo_server, mongo_db_name, socket.gethostname(), lock_owner.pid)
    planned = stop_migrations(request(mongo_server, mongo_db_name, check_mode=True))
    assert planned.running and not planned.changed
    assert planned.mongodb["action"] == f"would request a stop, then signal {lock_owner.pid}"
    assert planned.mongodb["pid"] == lock_owner.pid
    assert lock_owner.poll() is None

    stopped = stop_migrations(request(mongo_server, mongo_db_name, grace_period=0.3))
    assert stopped.changed and stopped.mongodb["action"] == "signalled" and stopped.mongodb["released"]
    assert stopped.mongodb["steps"][0] == "stop requested in the lock document"
    lock_owner.wait(timeout=10)
    assert any("kill -TERM" in query for query in stopped.queries)


def test_an_owner_elsewhere_or_an_expired_lock_is_left_alone(mongo_server, mongo_db_name, lock_owner):
    hold_lock(mongo_server, mongo_db_name, "another-host.invalid", lock_owner.pid)
    elsewhere = stop_migrations(request(mongo_server, mongo_db_name, grace_period=0.2, wait_timeout=0.5))
    assert elsewhere.running and elsewhere.changed and not elsewhere.mongodb["released"]
    assert elsewhere.mongodb["action"] == "stop requested" and elsewhere.warnings
    assert "another-host.invalid" in elsewhere.mongodb["steps"][-1]
    assert lock_owner.poll() is None  # never signalled: it is not on this host
    with pymongo.MongoClient(mongo_server) as client:
        assert client[mongo_db_name].dbops_lock.find_one()["stop_requested"]["by"]

    hold_lock(mongo_server, mongo_db_name, socket.gethostname(), lock_owner.pid, ttl_s=-5)
    expired = stop_migrations(request(mongo_server, mongo_db_name))
    assert not expired.running and expired.mongodb is None and lock_owner.poll() is None


def test_a_runner_anywhere_stops_at_its_next_step_when_asked_through_the_lock(mongo_server, mongo_db_name):
    """The runner's own lock reads the stop request: no signal needed, so it works across hosts."""
    with pymongo.MongoClient(mongo_server) as client:
        lock = RunnerLock(client[mongo_db_name], ttl_s=30)
        lock.acquire(wait_s=1)
        stopped_at: list[str] = []

        def work() -> None:  # a runner between its steps
            try:
                while True:
                    lock.check()
                    time.sleep(0.05)
            except LockLost as exc:
                stopped_at.append(str(exc))
                lock.release()

        runner = threading.Thread(target=work, daemon=True)
        runner.start()
        result = stop_migrations(request(mongo_server, mongo_db_name, grace_period=5))
        runner.join(timeout=5)
    assert result.changed and result.mongodb["released"] and result.mongodb["action"] == "stop requested"
    assert stopped_at and "a stop was requested by" in stopped_at[0]
    assert not any("kill" in query for query in result.queries)


def test_no_runner_on_postgres_changes_nothing(pg_db):
    result = stop_migrations(StopMigrationsRequest(databases=DatabaseConnections(postgres_dsn=pg_db)))
    assert (result.running, result.changed, result.postgres) == (False, False, [])
    assert result.queries and "pg_locks" in result.queries[0]


def test_a_busy_runner_is_cancelled_and_an_idle_one_terminated_after_the_grace_period(pg_db):
    busy = psycopg.connect(pg_db, autocommit=True, application_name="sevenp.dbops")
    busy.execute("SELECT pg_advisory_lock(%s)", (RUNNER_LOCK_KEY,))
    busy_pid = busy.info.backend_pid
    outcome: list[str] = []

    def sleep() -> None:
        try:
            busy.execute("SELECT pg_sleep(60)")
        except psycopg.Error as exc:
            outcome.append(exc.sqlstate or "")
        busy.close()  # what the migrate engine does once its statement failed: it lets go

    sleeper = threading.Thread(target=sleep, daemon=True)
    sleeper.start()
    with psycopg.connect(pg_db, autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                               (busy_pid,)).fetchone()[0]:
            time.sleep(0.05)
    cancelled = stop_migrations(StopMigrationsRequest(databases=DatabaseConnections(postgres_dsn=pg_db),
                                                      grace_period=10, wait_timeout=10))
    sleeper.join(timeout=10)
    assert cancelled.changed and [s["stopped_by"] for s in cancelled.postgres] == ["cancel"]
    assert outcome == ["57014"]  # query_canceled: the engine sees its statement fail, as on any error

    idle = psycopg.connect(pg_db, autocommit=True)
    idle.execute("SELECT pg_advisory_lock(%s)", (RUNNER_LOCK_KEY,))
    try:
        planned = stop_migrations(StopMigrationsRequest(databases=DatabaseConnections(postgres_dsn=pg_db),
                                                        check_mode=True))
        assert planned.running and not planned.changed and planned.postgres[0]["pid"] == idle.info.backend_pid
        terminated = stop_migrations(StopMigrationsRequest(databases=DatabaseConnections(postgres_dsn=pg_db),
                                                           grace_period=0.5, wait_timeout=10))
        assert [s["stopped_by"] for s in terminated.postgres] == ["terminate"]
        assert any("pg_terminate_backend" in query for query in terminated.queries)
    finally:
        idle.close()

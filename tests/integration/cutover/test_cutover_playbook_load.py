"""The write load the cutover playbook tests run under (tests/support/cutover_load.py), checked on its own against
a plain cluster behind PgBouncer and a SecantusDB server behind HAProxy: every write it calls acknowledged is in
the database, a write deleted afterwards is reported missing, and a PgBouncer PAUSE shows up as the largest gap
between commits without failing a transaction."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymongo
import pytest

from tests.support.cutover_load import CutoverLoad, MongoWriter, PgbenchLoad
from tests.support.haproxy_server import HaProxy
from tests.support.mongo_server import destroy_daemon, new_daemon
from tests.support.pg_cluster import PgCluster, new_cluster
from tests.support.pgbouncer_server import PgBouncer, database_entry, destroy_pgbouncer, new_pgbouncer

PAUSE_S = 0.4


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    pg = new_cluster(prefix="dbops-load-")
    try:
        pg.create_database("app")
        pg.psql("CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT clock_timestamp())", "app")
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def bouncer(cluster: PgCluster) -> Iterator[PgBouncer]:
    pgb = new_pgbouncer({"app": database_entry(cluster.host, cluster.port, "app")})
    try:
        yield pgb
    finally:
        destroy_pgbouncer(pgb)


@pytest.fixture(scope="module")
def mongo_behind_haproxy() -> Iterator[tuple[str, str]]:
    """(the HAProxy URI clients use, the server's own URI)."""
    daemon = new_daemon()
    base = Path(tempfile.mkdtemp(prefix="dbops-load-haproxy-"))
    # Both servers of the backend are the same daemon: only the route through HAProxy matters here.
    proxy = HaProxy(base_dir=base, blue=("127.0.0.1", daemon.port), green=("127.0.0.1", daemon.port)).start()
    try:
        yield proxy.mongodb_uri, daemon.uri
    finally:
        proxy.stop()
        shutil.rmtree(base, ignore_errors=True)
        destroy_daemon(daemon)


def test_every_acknowledged_write_is_found_and_a_pause_is_the_largest_gap(cluster, bouncer, mongo_behind_haproxy,
                                                                          tmp_path):
    haproxy_uri, mongo_uri = mongo_behind_haproxy
    load = CutoverLoad(postgres=PgbenchLoad(dsn=bouncer.dsn("app"), work_dir=tmp_path / "pgbench", duration=30),
                       mongodb=MongoWriter(uri=haproxy_uri, database="app", duration=30)).start()

    def pause_pgbouncer() -> None:
        time.sleep(2)
        with psycopg.connect(bouncer.admin_dsn, autocommit=True, prepare_threshold=None) as admin:
            admin.execute('PAUSE "app"')
            time.sleep(PAUSE_S)
            admin.execute('RESUME "app"')

    pauser = threading.Thread(target=pause_pgbouncer)
    pauser.start()
    pauser.join()
    time.sleep(1.5)
    summary = load.stop()  # long before the 30 s they would run for

    assert summary["postgres"]["failed"] == 0, summary
    assert summary["postgres"]["acknowledged"] > 200, summary
    assert summary["mongodb"]["failed"] == 0 and summary["mongodb"]["acknowledged"] > 50, summary
    # The pause held every client: no commit in between, and only just longer than the pause itself.
    assert PAUSE_S * 1000 <= summary["postgres"]["largest_gap_ms"] < PAUSE_S * 1000 + 500, summary
    assert summary["mongodb"]["largest_gap_ms"] < 1000, summary

    direct = cluster.dsn("app")
    assert load.check(postgres_dsn=direct, mongodb_uri=mongo_uri) == {"postgres": [], "mongodb": []}
    # The writes pgbench logged are exactly the rows it wrote (its transaction numbers name them).
    rows = int(cluster.psql("SELECT count(*) FROM orders WHERE item LIKE 'load-%'", "app"))
    assert rows == summary["postgres"]["acknowledged"]

    # A lost write is seen as lost, on both sides.
    lost_row, lost_doc = load.postgres.log.acknowledged[7], load.mongodb.log.acknowledged[3]
    cluster.psql(f"DELETE FROM orders WHERE item = '{lost_row}'", "app")
    with pymongo.MongoClient(mongo_uri) as client:
        client.app.cutover_load.delete_one({"_id": lost_doc})
    assert load.check(postgres_dsn=direct, mongodb_uri=mongo_uri) == {"postgres": [lost_row], "mongodb": [lost_doc]}

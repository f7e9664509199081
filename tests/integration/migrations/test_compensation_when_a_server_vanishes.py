"""A coordinated set on real servers (PostgreSQL 15 and SecantusDB behind a TCP proxy the test cuts): when MongoDB
vanishes after the PostgreSQL part applied, the PostgreSQL part is compensated, its ledger says so, the error is one
clear message, and once MongoDB is back a rerun applies the set."""

from __future__ import annotations

import textwrap
from urllib.parse import urlsplit

import psycopg
import pymongo
import pytest
import yaml

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.part_executor import (
    MongoPartExecutor,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_executor import (
    PostgresPartExecutor,
)
from tests.support.tcp_proxy import TcpProxy, new_proxy

VERSION = "2024.004"
PG_UP = """
    CREATE TABLE lessons (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        course_slug text NOT NULL REFERENCES courses (slug),
        title text NOT NULL
    );
    INSERT INTO lessons (course_slug, title) VALUES ('intro', 'lesson 0'), ('intro', 'lesson 1');
    UPDATE courses SET title = title || ' (with lessons)';
"""
PG_DOWN = """
    UPDATE courses SET title = replace(title, ' (with lessons)', '');
    DROP TABLE lessons;
"""
MONGO_PART = {"operations": [{"create_collection": {"name": "lesson_notes"}},
                             {"add_field": {"collection": "courses", "field": "has_lessons", "default": True}}]}


class CuttingPostgresExecutor(PostgresPartExecutor):
    """The real PostgreSQL executor; once its part is applied, the MongoDB server becomes unreachable."""

    def __init__(self, dsn: str, proxy: TcpProxy) -> None:
        super().__init__(dsn)
        self.proxy = proxy

    def apply(self, migration_set, opts, queries) -> None:
        super().apply(migration_set, opts, queries)
        self.proxy.cut()


@pytest.fixture
def proxy(mongo_server):
    where = urlsplit(mongo_server)
    forwarder = new_proxy(where.hostname, where.port)
    try:
        yield forwarder
    finally:
        forwarder.stop()


@pytest.fixture
def proxied_uri(mongo_server, proxy):
    # directConnection: the server advertises its own address; discovery would bypass the proxy otherwise.
    where = urlsplit(mongo_server)
    assert not where.query
    return f"mongodb://{proxy.host}:{proxy.port}/?directConnection=true"


@pytest.fixture
def mongo_db(mongo_server, mongo_db_name):
    client = pymongo.MongoClient(mongo_server)
    db = client[mongo_db_name]
    db.courses.insert_many([{"slug": "intro"}, {"slug": "sql"}])
    try:
        yield db
    finally:
        client.drop_database(mongo_db_name)
        client.close()


@pytest.fixture
def migrations(tmp_path):
    directory = tmp_path / "migrations" / f"{VERSION}_lessons"
    directory.mkdir(parents=True)
    (directory / "postgres.up.sql").write_text(textwrap.dedent(PG_UP))
    (directory / "postgres.down.sql").write_text(textwrap.dedent(PG_DOWN))
    (directory / "mongodb.yml").write_text(yaml.safe_dump(MONGO_PART, sort_keys=False))
    return directory.parent


@pytest.fixture
def pg_state(pg_db, pg_cluster, pg_db_name):
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE courses (slug text PRIMARY KEY, title text NOT NULL)")
        conn.execute("INSERT INTO courses VALUES ('intro', 'Introduction'), ('sql', 'SQL')")

    def state() -> tuple[str, list]:
        with psycopg.connect(pg_db) as conn:
            tables = [t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = 'public' ORDER BY 1")]
            data = [(t, conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in tables]
        return pg_cluster.schema_dump(pg_db_name), data

    return state


def pg_ledger(dsn: str) -> dict[str, tuple[str, str | None]]:
    with psycopg.connect(dsn) as conn:
        return {v: (s, e) for v, s, e in conn.execute("SELECT version, status, error FROM dbops.schema_migrations")}


def test_mongodb_vanishing_after_the_postgres_part_compensates_it_then_a_rerun_applies(
        pg_db, pg_state, mongo_db, proxy, proxied_uri, migrations):
    before = pg_state()
    request = engine.RunRequest(migrations_dir=str(migrations), postgres_dsn=pg_db, mongodb_uri=proxied_uri,
                                mongodb_database=mongo_db.name, runner_lock_wait_s=20)
    executors = {"postgres": CuttingPostgresExecutor(pg_db, proxy),
                 # short timeouts: the server is gone, there is nothing to wait for
                 "mongodb": MongoPartExecutor(proxied_uri, mongo_db.name, lock_ttl_s=2, timeout_ms=1500)}

    with pytest.raises(DbopsError) as caught:
        engine.run(request, executors=executors)

    message = str(caught.value)
    assert message.startswith(f"{VERSION} (") and "mongodb" in message
    assert "postgres part compensated (rolled back)" in message
    assert "\n" not in message and "Traceback" not in message
    assert pg_state() == before  # pg_dump --schema-only and every row, as before the run
    status, error = pg_ledger(pg_db)[VERSION]
    assert status == "rolled_back" and error.startswith("compensated: the set failed")
    outcome = caught.value.result.sets[0]
    assert outcome["status"] == "failed" and outcome["parts"]["postgres"] == "rolled_back"
    assert "lesson_notes" not in mongo_db.list_collection_names()  # checked around the proxy

    proxy.restore()
    result = engine.run(request)  # the engine's own executors this time, through the restored proxy
    assert result.applied == [VERSION]
    assert result.sets[0]["parts"] == {"postgres": "applied", "mongodb": "applied"}
    assert pg_ledger(pg_db)[VERSION][0] == "applied"
    assert mongo_db.courses.count_documents({"has_lessons": True}) == 2
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM lessons").fetchone() == (2,)


def test_mongodb_gone_before_the_run_changes_nothing(pg_db, pg_state, mongo_db, proxy, proxied_uri, migrations):
    before = pg_state()
    proxy.cut()
    executors = {"postgres": PostgresPartExecutor(pg_db),
                 "mongodb": MongoPartExecutor(proxied_uri, mongo_db.name, timeout_ms=1500)}
    request = engine.RunRequest(migrations_dir=str(migrations), postgres_dsn=pg_db, mongodb_uri=proxied_uri,
                                mongodb_database=mongo_db.name)
    with pytest.raises(DbopsError) as caught:
        engine.run(request, executors=executors)
    assert "\n" not in str(caught.value) and "mongodb" in str(caught.value).lower()
    assert pg_state() == before and caught.value.result.applied == []

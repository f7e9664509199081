"""Done means, for MongoDB: wal_archiving.yml, backup.yml, recovery_point.yml and pitr.yml with both databases'
variables restore PostgreSQL and MongoDB to a named point with no manual step (the change capture is the service
wal_archiving.yml started)."""

from __future__ import annotations

import psycopg
import pymongo
import pytest

from tests.integration.jobs.capture_playbook_env import (
    both_databases,
    cluster_of_its_own,
    execute,
    play,
    work_directory,
)
from tests.support.capture_service import capture_dirs

workdir = pytest.fixture(name="workdir")(work_directory)
fresh_cluster = pytest.fixture(name="fresh_cluster")(cluster_of_its_own)


def rows(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("select id from t order by id").fetchall()]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_both_databases_back_to_a_named_point_with_the_playbooks_alone(
        workdir, fresh_cluster, mongo_server, mongo_db_name):
    variables = both_databases(fresh_cluster, workdir, mongo_server, mongo_db_name)
    dsn = variables["dbops_postgres_dsn"]
    things = pymongo.MongoClient(mongo_server)[mongo_db_name].things

    first = play("wal_archiving.yml", variables, workdir)
    assert "change capture dbops-change-capture-" in first.stdout and "running=True" in first.stdout
    assert len(capture_dirs(workdir / "install")) == 1

    execute(dsn, "create table t (id int primary key)")
    execute(dsn, "insert into t select generate_series(1, 10)")
    things.insert_many([{"_id": i} for i in range(1, 11)])
    play("backup.yml", variables, workdir)

    execute(dsn, "insert into t select generate_series(11, 20)")
    things.insert_many([{"_id": i} for i in range(11, 21)])
    point = play("recovery_point.yml", {**variables, "dbops_recovery_point": "before_disaster"}, workdir)
    assert "recovery point before_disaster" in point.stdout

    execute(dsn, "insert into t select generate_series(21, 30)")
    things.insert_many([{"_id": i} for i in range(21, 31)])
    execute(dsn, "drop table t")  # the disaster, in both databases
    things.drop()

    restored = play("pitr.yml", {**variables, "dbops_target_name": "before_disaster"}, workdir)
    assert "verified: True" in restored.stdout
    assert rows(dsn) == list(range(1, 21))
    assert sorted(doc["_id"] for doc in things.find()) == list(range(1, 21))

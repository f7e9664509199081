"""One table and one collection brought back from a recovery point without touching the rest (the object_restore
module's engine): a dropped table and collection recreated, a damaged table's rows replaced, check mode and the
refusals; the live PostgreSQL cluster keeps running throughout."""

from __future__ import annotations

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.object_restore import (
    ObjectRestoreRequest,
    run_object_restore,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
    RecoveryPointRequest,
    create_recovery_point,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from tests.support.backup_env import PG_BIN_DIR, running_capture
from tests.support.pg_cluster import PG_OS_USER

pytestmark = pytest.mark.slow


def rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return [tuple(row) for row in conn.execute(query).fetchall()]


def test_a_dropped_table_and_collection_and_damaged_rows_come_back(local_cluster, mongo_server, mongo_db_name):
    env = local_cluster
    mongo = pymongo.MongoClient(mongo_server)[mongo_db_name]
    env.execute("create table orders (id bigserial primary key, note text not null)")
    env.execute("create index orders_note on orders (note)")
    env.execute("create table prices (sku text primary key, cents int not null)")
    env.execute("insert into orders (note) select 'order ' || g from generate_series(1, 50) g")
    env.execute("insert into prices select 'sku' || g, g * 100 from generate_series(1, 20) g")
    mongo.create_collection("events", validator={"$jsonSchema": {"required": ["kind"]}})
    mongo.events.create_index("kind")
    mongo.events.insert_many([{"_id": i, "kind": "seen"} for i in range(1, 31)])
    mongo.keep.insert_one({"_id": "untouched"})

    databases = DatabaseConnections(postgres_dsn=env.dsn, mongodb_uri=mongo_server, mongodb_database=mongo_db_name)
    run_backup(BackupRequest(repository=env.options, databases=databases, pg_bin_dir=PG_BIN_DIR))
    with running_capture(mongo_server, env.options, mongo_db_name):
        env.execute("insert into orders (note) select 'late ' || g from generate_series(1, 5) g")
        mongo.events.insert_many([{"_id": i, "kind": "late"} for i in range(31, 36)])
        create_recovery_point(RecoveryPointRequest(name="before-incident", repository=env.options,
                                                   databases=databases, wait_timeout=60))
        # The incident: a table and a collection dropped, another table's rows damaged.
        env.execute("drop table orders")
        env.execute("update prices set cents = 0")
        mongo.events.drop()
    env.execute("create table after_incident (x int)")  # must survive: nothing else is restored

    request = ObjectRestoreRequest(
        repository=env.options, databases=databases, target=PgTargetSpec(name="before-incident"),
        tables=("public.orders", "public.prices"), collections=("events",),
        cluster=ClusterOnHost(pgdata="", bin_dir=PG_BIN_DIR, os_user=PG_OS_USER), timeout=120)
    planned = run_object_restore(ObjectRestoreRequest(**{**request.__dict__, "check_mode": True}))
    assert planned.changed and set(planned.plan) == {"postgres", "mongodb"}
    assert rows(env.dsn, "select to_regclass('public.orders') is null, to_regclass('dbops_recovered.orders') "
                         "is null") == [(True, True)]

    staged = run_object_restore(request)
    by_name = {item["name"]: item for item in staged.objects}
    assert by_name["public.orders"]["rows"] == 55 and by_name["public.prices"]["rows"] == 20
    assert by_name["events"]["rows"] == 35 and not any(item["copied_back"] for item in staged.objects)
    assert rows(env.dsn, "select count(*) from dbops_recovered.orders") == [(55,)]
    assert rows(env.dsn, "select sum(cents) from prices") == [(0,)]  # not copied back yet
    assert "events" not in mongo.list_collection_names()

    done = run_object_restore(ObjectRestoreRequest(**{**request.__dict__, "copy_back": True}))
    how = {item["name"]: item["how"] for item in done.objects}
    assert how == {"public.orders": "recreated", "public.prices": "rows replaced", "events": "recreated"}
    assert rows(env.dsn, "select count(*), max(id) from orders") == [(55, 55)]
    assert rows(env.dsn, "select indexname from pg_indexes where tablename = 'orders' order by 1") == \
        [("orders_note",), ("orders_pkey",)]
    with psycopg.connect(env.dsn) as conn:
        # The owned sequence came along and goes on after the rows (recovery may skip ahead: WAL logs sequences
        # up to 32 values in advance).
        assert 55 < conn.execute("insert into orders (note) values ('new') returning id").fetchone()[0] <= 55 + 33
    assert rows(env.dsn, "select sum(cents) from prices") == [(sum(g * 100 for g in range(1, 21)),)]
    assert rows(env.dsn, "select to_regclass('public.after_incident') is not null") == [(True,)]
    assert sorted(doc["_id"] for doc in mongo.events.find()) == list(range(1, 36))
    assert "kind_1" in mongo.events.index_information()
    options = mongo.events.options()
    assert options["validator"] == {"$jsonSchema": {"required": ["kind"]}}
    assert mongo.keep.find_one() == {"_id": "untouched"}
    assert any("session_replication_role" in query for query in done.queries)


def test_refusals_name_what_is_wrong(local_cluster):
    env = local_cluster
    databases = DatabaseConnections(postgres_dsn=env.dsn)
    with pytest.raises(RestoreError, match="nothing to restore"):
        run_object_restore(ObjectRestoreRequest(repository=env.options, databases=databases,
                                                target=PgTargetSpec(name="x")))
    with pytest.raises(RestoreError, match="collections need mongodb_uri"):
        run_object_restore(ObjectRestoreRequest(repository=env.options, databases=databases,
                                                target=PgTargetSpec(name="x"), collections=("c",)))
    with pytest.raises(RestoreError, match="side_schema"):
        run_object_restore(ObjectRestoreRequest(repository=env.options, databases=databases,
                                                target=PgTargetSpec(name="x"), tables=("dbops_recovered.t",)))
    with pytest.raises(RestoreError, match="recovery point 'nowhere'"):
        run_object_restore(ObjectRestoreRequest(repository=env.options, databases=databases,
                                                target=PgTargetSpec(name="nowhere"), tables=("public.t",)))

"""The drill's write load against real servers: every acknowledged write is in the database, in order, and a
recovery point taken while it runs splits the writes cleanly by WAL position and oplog timestamp."""

import threading
import time

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.acknowledgements import AckLog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.disaster import strike
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.restored_writes import (
    mongodb_sequences,
    postgres_sequences,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.verification import (
    RecoveryPointMark,
    verify,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import (
    LoadSpec,
    WriteLoad,
    wait_for_writes,
    wait_stopped,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections


@pytest.fixture
def spec(tmp_path, pg_db, mongo_server, mongo_db_name) -> LoadSpec:
    return LoadSpec(run_id="run-1", work_dir=str(tmp_path / "work"),
                    databases=DatabaseConnections(postgres_dsn=pg_db, mongodb_uri=mongo_server,
                                                  mongodb_database=mongo_db_name),
                    interval_s=0.002, max_seconds=60)


def _take_point(spec: LoadSpec) -> RecoveryPointMark:
    started = time.time()
    with psycopg.connect(spec.databases.postgres_dsn, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_create_restore_point('drill')::text").fetchone()[0]
    client = pymongo.MongoClient(spec.databases.mongodb_uri)
    op_time = client.admin.command("hello")["lastWrite"]["opTime"]["ts"]
    client.close()
    return RecoveryPointMark(started_at=started, finished_at=time.time(), postgres_lsn=lsn,
                             mongodb_op_time=(op_time.time, op_time.inc))


def test_load_acknowledges_every_write_and_a_point_splits_them(spec):
    load = WriteLoad(spec)
    thread = threading.Thread(target=load.run)
    thread.start()
    try:
        wait_for_writes(spec, 40, timeout_s=30)
        mark = _take_point(spec)
        wait_for_writes(spec, 40, since=mark.finished_at, timeout_s=30)
    finally:
        status = wait_stopped(spec, timeout_s=30)
        thread.join(timeout=30)
    assert status["stopped_by"] == "stop file"
    acks = AckLog(spec.ack_log).acks()
    pg_rows, exists, in_recovery = postgres_sequences(spec.databases.postgres_dsn, spec.table, spec.run_id)
    mongo_docs = mongodb_sequences(spec.databases.mongodb_uri, spec.databases.mongodb_database, spec.collection,
                                   spec.run_id)[0]
    acked = {db: {ack.seq for ack in acks if ack.db == db} for db in ("postgres", "mongodb")}
    assert exists and not in_recovery
    assert acked["postgres"] <= pg_rows and acked["mongodb"] <= mongo_docs
    assert status["writers"]["postgres"]["acknowledged"] == len(acked["postgres"])

    # Nothing was restored: every write after the point is still there, which the verification calls overshoot.
    result, fates = verify(acks, {}, {"postgres": pg_rows, "mongodb": mongo_docs}, mark)
    for db in ("postgres", "mongodb"):
        verdict = result.databases[db]
        assert verdict.before_point >= 40 and verdict.after_point >= 40, verdict
        assert verdict.in_flight <= 2, verdict
        assert verdict.classified_by in ("wal position", "oplog timestamp")
        assert verdict.lost == 0 and verdict.overshoot == verdict.after_point
    assert not result.verified

    # Remove what came after the point (what a restore to the point does): now it verifies, with RPO 0.
    after = {db: {seq for seq, fate in fates[db].items() if fate in ("overshoot", "in_flight_kept")}
             for db in fates}
    restored = {db: seqs - after[db] for db, seqs in (("postgres", pg_rows), ("mongodb", mongo_docs))}
    result = verify(acks, {}, restored, mark)[0]
    assert result.verified and result.rpo_writes_lost == 0


def test_disaster_drops_table_and_collection_and_check_mode_only_plans(spec):
    WriteLoad(LoadSpec(**{**spec.__dict__, "max_writes": 3})).run()
    planned = strike(postgres_dsn=spec.databases.postgres_dsn, table=spec.table, mongodb_uri=spec.databases.mongodb_uri,
                     mongodb_database=spec.databases.mongodb_database, collection=spec.collection, check_mode=True)
    assert planned.changed and len(planned.dropped) == 2
    assert postgres_sequences(spec.databases.postgres_dsn, spec.table, spec.run_id)[1]
    done = strike(postgres_dsn=spec.databases.postgres_dsn, table=spec.table, mongodb_uri=spec.databases.mongodb_uri,
                  mongodb_database=spec.databases.mongodb_database, collection=spec.collection, check_mode=False)
    assert done.statements == planned.statements
    assert postgres_sequences(spec.databases.postgres_dsn, spec.table, spec.run_id) == (set(), False, False)
    assert mongodb_sequences(spec.databases.mongodb_uri, spec.databases.mongodb_database, spec.collection,
                             spec.run_id) == (set(), False)
    again = strike(postgres_dsn=spec.databases.postgres_dsn, table=spec.table, mongodb_uri=spec.databases.mongodb_uri,
                   mongodb_database=spec.databases.mongodb_database, collection=spec.collection, check_mode=False)
    assert not again.changed

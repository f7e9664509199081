"""The test servers themselves work: a failing fixture should fail here first, with a clear message."""

import psycopg
import pymongo


def test_postgres_cluster_answers(pg_db):
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0] == 15


def test_mongodb_server_answers(mongo_server, mongo_db_name):
    client = pymongo.MongoClient(mongo_server, serverSelectionTimeoutMS=5000)
    client[mongo_db_name].things.insert_one({"a": 1})
    assert client[mongo_db_name].things.count_documents({}) == 1

"""The application both databases serve in the benchmark: a PostgreSQL role and table, a MongoDB user and
collection, and the writers that use them every way a session can."""

from __future__ import annotations

from typing import Any

import psycopg
import pymongo
from psycopg import sql

from bench.read_only.write_load import Writer

APP_ROLE = "bench_app"
APP_PASSWORD = "bench-app-pw"
MONGO_DB = "shop"


def provision_postgres(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
        conn.execute(create.format(sql.Identifier(APP_ROLE), sql.Literal(APP_PASSWORD)))
        conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, way text, at timestamptz DEFAULT now())")
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO {}").format(sql.Identifier(APP_ROLE)))
        conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE orders_id_seq TO {}").format(sql.Identifier(APP_ROLE)))


def provision_mongodb(client: pymongo.MongoClient) -> None:
    client[MONGO_DB].orders.insert_one({"_id": "seed"})
    client[MONGO_DB].command("createUser", "app", pwd=APP_PASSWORD, roles=["readWrite"])


class PgSession:
    """A long-lived application connection, reopened when the server terminates it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None

    def get(self) -> Any:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        return self.conn

    def reset(self) -> None:
        if self.conn is not None and not self.conn.closed and \
                self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                self.conn.execute("ROLLBACK")
            except psycopg.Error:
                self.conn.close()


def postgres_writers(app_dsn: str) -> list[Writer]:
    plain, set_off, read_write = PgSession(app_dsn), PgSession(app_dsn), PgSession(app_dsn)

    def insert() -> None:
        plain.get().execute("INSERT INTO orders (way) VALUES ('insert')")

    def insert_after_set_off() -> None:
        conn = set_off.get()
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("INSERT INTO orders (way) VALUES ('set off')")

    def begin_read_write() -> None:
        conn = read_write.get()
        conn.execute("BEGIN READ WRITE")
        conn.execute("INSERT INTO orders (way) VALUES ('begin read write')")
        conn.execute("COMMIT")

    def new_connection() -> None:
        with psycopg.connect(app_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute("INSERT INTO orders (way) VALUES ('new connection')")

    return [Writer("pg insert", insert, plain.reset), Writer("pg SET ... off", insert_after_set_off, set_off.reset),
            Writer("pg BEGIN READ WRITE", begin_read_write, read_write.reset),
            Writer("pg new connection", new_connection)]


def mongodb_writers(app_uri: str) -> list[Writer]:
    opened = pymongo.MongoClient(app_uri, serverSelectionTimeoutMS=2000, retryWrites=False)

    def open_client() -> None:
        opened[MONGO_DB].orders.insert_one({"way": "open client"})

    def new_client() -> None:
        with pymongo.MongoClient(app_uri, serverSelectionTimeoutMS=2000, retryWrites=False) as fresh:
            fresh[MONGO_DB].orders.insert_one({"way": "new client"})

    return [Writer("mongodb open client", open_client), Writer("mongodb new client", new_client)]

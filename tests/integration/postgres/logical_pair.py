"""Two real PostgreSQL 15 clusters for the logical replication tests: blue with the application's database, roles,
rows and a migration ledger; green empty. reset() puts both back to that start between tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import switch_steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger_layout
from tests.support.pg_cluster import PgCluster, new_cluster

APP_DB = "app"
APP_USER = "logical_app_user"
LOGICAL_CONF = {"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10",
                "max_logical_replication_workers": "6", "max_worker_processes": "16",
                "wal_receiver_status_interval": "1"}
FLOWS = ("dbops_cutover_blue_to_green", "dbops_cutover_green_to_blue")

BLUE_SCHEMA = f"""
CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE INDEX customers_name ON customers (name);
GRANT SELECT, INSERT, UPDATE, DELETE ON orders, customers TO {APP_USER};
INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 20) AS i;
INSERT INTO orders (item) SELECT 'seed ' || i FROM generate_series(1, 50) AS i;
"""


@dataclass
class LogicalPair:
    blue: PgCluster
    green: PgCluster

    def dsn(self, cluster: PgCluster, **kwargs: str) -> str:
        return cluster.dsn(APP_DB, **kwargs)

    def connect(self, cluster: PgCluster) -> psycopg.Connection:
        return psycopg.connect(cluster.dsn(APP_DB), autocommit=True)

    def reset(self) -> None:
        """No flow, no app database on either side, green without the application role; blue's app database
        created again with its rows and a ledger recording one applied migration."""
        with_app = [cluster for cluster in (self.blue, self.green)
                    if cluster.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{APP_DB}'") == "1"]
        # Subscriptions first, on both sides: a slot is dropped only once nothing streams from it.
        for publishing in (False, True):
            for cluster in with_app:
                with self.connect(cluster) as conn:
                    for name in FLOWS:
                        switch_steps.drop_flow(conn if publishing else None, None if publishing else conn, name, [])
        for cluster in (self.blue, self.green):
            with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
                for (slot,) in conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall():
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            cluster.drop_database(APP_DB)
            cluster.psql(f"DROP ROLE IF EXISTS {APP_USER}")
        self.blue.psql(f"CREATE ROLE {APP_USER} LOGIN PASSWORD 'app-secret-123'")
        self.blue.create_database(APP_DB)
        self.blue.psql(BLUE_SCHEMA, APP_DB)
        with self.connect(self.blue) as conn:
            ledger_layout.upgrade(conn)
            conn.execute("INSERT INTO dbops.schema_migrations (version, name, checksum, status) "
                         "VALUES ('001', 'orders', 'abc', 'applied')")
        self.green.create_database(APP_DB)

    def snapshot(self, cluster: PgCluster) -> dict[str, list[tuple]]:
        """What a refused run must leave exactly as it was."""
        with self.connect(cluster) as conn:
            def rows(query: str) -> list[tuple]:
                return [tuple(row) for row in conn.execute(query).fetchall()]
            return {
                "relations": rows("SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                                  "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                                  "'information_schema', 'pg_toast') ORDER BY 1, 2"),
                "roles": rows("SELECT rolname FROM pg_roles ORDER BY 1"),
                "publications": rows("SELECT pubname FROM pg_publication ORDER BY 1"),
                "subscriptions": rows("SELECT subname FROM pg_subscription ORDER BY 1"),
                "slots": rows("SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
                "orders": rows("SELECT count(*) FROM orders") if cluster is self.blue else [],
            }


@pytest.fixture(scope="module")
def clusters() -> Iterator[LogicalPair]:
    """The pair for a whole test module (a test file takes it with `clusters = logical_pair.clusters`)."""
    blue = new_cluster(prefix="dbops-blue-", extra_conf=LOGICAL_CONF)
    green = new_cluster(prefix="dbops-green-", extra_conf=LOGICAL_CONF)
    try:
        yield LogicalPair(blue, green)
    finally:
        green.destroy()
        blue.destroy()


@pytest.fixture
def pair(clusters: LogicalPair) -> LogicalPair:
    """The module's pair, back at its start."""
    clusters.reset()
    return clusters

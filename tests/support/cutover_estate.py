"""The blue-green estate of the cutover tests: everything a cutover touches, on 127.0.0.1, started by the tests.

- blue and green PostgreSQL 15 clusters (wal_level logical both ways, slots, senders and workers for a forward and a
  reverse flow, the subscriber reporting its position every second), database `app` on both with the application
  role `app_user` (LOGIN, password, owns nothing; DML on the application's tables through default privileges and
  grants). Blue has the sample tables and rows; green has NO schema (the cutover's prepare copies it).
- PgBouncer (transaction pooling) whose `app` entry routes to blue, logging in to PostgreSQL as app_user; clients
  may log in as postgres or app_user; the admin console is for postgres.
- blue and green SecantusDB daemons with --auth (root user `admin`, application user `app_user` readWrite on `app`,
  provisioned without auth first on the same --storage-path, like mongo_server.new_authenticated_server); blue has
  sample documents, green none.
- HAProxy (mode tcp) whose backend `mongo` has servers blue and green, blue active.

    with start_estate(tmp_path) as estate:
        psycopg.connect(estate.app_dsn)            # the application, through PgBouncer
        pymongo.MongoClient(estate.app_mongo_uri)  # the application, through HAProxy
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .haproxy_server import BACKEND, HaProxy, destroy_haproxy, new_haproxy
from .mongo_server import MongoDaemon, destroy_daemon
from .pg_cluster import SUPERUSER, PgCluster, new_cluster
from .pgbouncer_server import PgBouncer, destroy_pgbouncer, new_pgbouncer
from .ports import free_port

SIDES = ("blue", "green")
APP_DB = "app"
APP_USER = "app_user"
APP_PASSWORD = "app-user-secret"
MONGO_ADMIN = "admin"
MONGO_ADMIN_PASSWORD = "admin-secret"
PGBOUNCER_DATABASE = APP_DB
HAPROXY_BACKEND = BACKEND

# Enough for the forward flow, the reverse flow and their table-sync workers on either side.
LOGICAL_CONF = {
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "max_logical_replication_workers": "6",
    "max_worker_processes": "16",
    "max_sync_workers_per_subscription": "2",
    # The subscriber reports its position every second rather than every ten.
    "wal_receiver_status_interval": "1",
}

# Both sides: the role, and default privileges so that tables the migrations or the schema copy create later as
# postgres are the application's to write too.
APP_ROLE_SQL = f"""
CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}';
ALTER DEFAULT PRIVILEGES FOR ROLE {SUPERUSER} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_USER};
ALTER DEFAULT PRIVILEGES FOR ROLE {SUPERUSER} GRANT USAGE, SELECT ON SEQUENCES TO {APP_USER};
GRANT USAGE ON SCHEMA public TO {APP_USER};
"""

BLUE_SCHEMA_SQL = """
CREATE TABLE orders (id bigserial PRIMARY KEY, item text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 20) AS i;
INSERT INTO orders (item) SELECT 'seed ' || i FROM generate_series(1, 50) AS i;
"""


@dataclass
class CutoverEstate:
    blue: PgCluster | None
    green: PgCluster | None
    pgbouncer: PgBouncer | None
    blue_mongo: MongoDaemon | None
    green_mongo: MongoDaemon | None
    haproxy: HaProxy | None
    work_dir: str = ""  # the tmp_dir given to start_estate (MongoDB storage and logs; free for the tests' files)
    app_db: str = APP_DB
    app_user: str = APP_USER
    app_password: str = APP_PASSWORD
    mongodb_database: str = APP_DB
    pgbouncer_database: str = PGBOUNCER_DATABASE
    haproxy_backend: str = HAPROXY_BACKEND

    # PostgreSQL -----------------------------------------------------------------------------------------------
    def cluster(self, side: str) -> PgCluster:
        cluster = self.blue if side == "blue" else self.green if side == "green" else None
        if cluster is None:
            raise ValueError(f"no PostgreSQL side {side!r} in this estate")
        return cluster

    def pg_dsn(self, side: str) -> str:
        """Superuser DSN of the side's `app` database."""
        return self.cluster(side).dsn(self.app_db)

    @property
    def blue_dsn(self) -> str:
        return self.pg_dsn("blue")

    @property
    def green_dsn(self) -> str:
        return self.pg_dsn("green")

    def app_dsn_direct(self, side: str) -> str:
        """The application role straight on one side's cluster (no PgBouncer)."""
        return self.cluster(side).dsn(self.app_db, user=self.app_user, password=self.app_password)

    def subscriber_conninfo(self, side: str) -> str:
        """What the other side's server uses to reach this side (libpq key=value, superuser)."""
        cluster = self.cluster(side)
        return cluster.dsn(self.app_db)

    @property
    def app_dsn(self) -> str:
        """The application through PgBouncer (PgBouncer logs in to PostgreSQL as app_user)."""
        assert self.pgbouncer is not None
        return f"postgresql://{self.app_user}@127.0.0.1:{self.pgbouncer.port}/{self.pgbouncer_database}"

    @property
    def pgbouncer_admin_dsn(self) -> str:
        assert self.pgbouncer is not None
        return self.pgbouncer.admin_dsn

    @property
    def pgbouncer_config(self) -> str:
        assert self.pgbouncer is not None
        return str(self.pgbouncer.ini)

    # MongoDB --------------------------------------------------------------------------------------------------
    def daemon(self, side: str) -> MongoDaemon:
        daemon = self.blue_mongo if side == "blue" else self.green_mongo if side == "green" else None
        if daemon is None:
            raise ValueError(f"no MongoDB side {side!r} in this estate")
        return daemon

    def mongo_uri(self, side: str) -> str:
        """The root user `admin` on one side (authSource admin)."""
        return _mongo_uri(f"127.0.0.1:{self.daemon(side).port}", MONGO_ADMIN, MONGO_ADMIN_PASSWORD, "admin")

    @property
    def blue_mongo_uri(self) -> str:
        return self.mongo_uri("blue")

    @property
    def green_mongo_uri(self) -> str:
        return self.mongo_uri("green")

    def app_mongo_uri_direct(self, side: str) -> str:
        return _mongo_uri(f"127.0.0.1:{self.daemon(side).port}", self.app_user, self.app_password,
                          self.mongodb_database)

    @property
    def app_mongo_uri(self) -> str:
        """The application through HAProxy."""
        assert self.haproxy is not None
        return _mongo_uri(f"127.0.0.1:{self.haproxy.port}", self.app_user, self.app_password, self.mongodb_database)

    @property
    def haproxy_socket(self) -> str:
        assert self.haproxy is not None
        return str(self.haproxy.socket)

    @property
    def app_users(self) -> list[str]:
        """The MongoDB users to fence, as user@db."""
        return [f"{self.app_user}@{self.mongodb_database}"]


def _mongo_uri(address: str, user: str, password: str, auth_db: str) -> str:
    return (f"mongodb://{quote(user, safe='')}:{quote(password, safe='')}@{address}/"
            f"?authSource={auth_db}&directConnection=true")


def _start_postgres(stack: ExitStack) -> tuple[PgCluster, PgCluster, PgBouncer]:
    import psycopg

    clusters: dict[str, PgCluster] = {}
    for side in SIDES:
        cluster = new_cluster(prefix=f"dbops-cutover-{side}-", extra_conf=dict(LOGICAL_CONF))
        stack.callback(cluster.destroy)
        cluster.create_database(APP_DB)
        with psycopg.connect(cluster.dsn(APP_DB), autocommit=True) as conn:
            conn.execute(APP_ROLE_SQL)
        clusters[side] = cluster
    blue = clusters["blue"]
    with psycopg.connect(blue.dsn(APP_DB), autocommit=True) as conn:
        conn.execute(BLUE_SCHEMA_SQL)
    entry = f"host={blue.host} port={blue.port} dbname={APP_DB} user={APP_USER} password={APP_PASSWORD}"
    bouncer = new_pgbouncer({PGBOUNCER_DATABASE: entry}, users=(SUPERUSER, APP_USER))
    stack.callback(destroy_pgbouncer, bouncer)
    return blue, clusters["green"], bouncer


def _provision_mongo(storage: Path, blue: bool) -> None:
    """Users (and for blue, sample documents) on a server without auth; the daemon then reopens it with --auth."""
    import pymongo
    from secantus import SecantusDBServer

    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage))
    server.start()
    uri = server.uri() if callable(server.uri) else server.uri
    try:
        with pymongo.MongoClient(uri) as client:
            client.admin.command("createUser", MONGO_ADMIN, pwd=MONGO_ADMIN_PASSWORD, roles=["root"])
            client[APP_DB].command("createUser", APP_USER, pwd=APP_PASSWORD, roles=["readWrite"])
            if blue:
                db = client[APP_DB]
                db.orders.insert_many([{"_id": i, "item": f"seed {i}", "qty": i % 5} for i in range(1, 51)])
                db.orders.create_index("item")
                db.customers.insert_many([{"_id": i, "name": f"customer {i}"} for i in range(1, 21)])
    finally:
        server.stop()


def _start_mongo(tmp_dir: Path, stack: ExitStack) -> tuple[MongoDaemon, MongoDaemon, HaProxy]:
    daemons: dict[str, MongoDaemon] = {}
    for side in SIDES:
        storage = tmp_dir / f"mongo-{side}" / "data"
        if storage.parent.exists():
            shutil.rmtree(storage.parent)
        storage.mkdir(parents=True)
        _provision_mongo(storage, blue=side == "blue")
        daemon = MongoDaemon(storage_path=storage, port=free_port(), extra_args=("--auth",)).start()
        stack.callback(destroy_daemon, daemon)
        daemons[side] = daemon
    proxy = new_haproxy(("127.0.0.1", daemons["blue"].port), ("127.0.0.1", daemons["green"].port))
    stack.callback(destroy_haproxy, proxy)
    return daemons["blue"], daemons["green"], proxy


@contextmanager
def start_estate(tmp_dir: str | Path, *, postgres: bool = True, mongodb: bool = True) -> Iterator[CutoverEstate]:
    """Start the estate (only the PostgreSQL or only the MongoDB half when asked), stop and delete it afterwards.

    tmp_dir holds the MongoDB storage and logs; the PostgreSQL clusters and PgBouncer live in temp dirs of their
    own that their OS user can reach."""
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        blue = green = bouncer = None
        blue_mongo = green_mongo = proxy = None
        if postgres:
            blue, green, bouncer = _start_postgres(stack)
        if mongodb:
            blue_mongo, green_mongo, proxy = _start_mongo(tmp, stack)
        yield CutoverEstate(blue=blue, green=green, pgbouncer=bouncer, blue_mongo=blue_mongo,
                            green_mongo=green_mongo, haproxy=proxy, work_dir=str(tmp))

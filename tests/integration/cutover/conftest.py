"""Blue and green for the cutover tests: two PostgreSQL clusters with a logical subscription (blue publishes
`orders`, green subscribes), and two SecantusDB servers; each side also has a `colour` table or collection that is
not replicated, so a client can tell which side it reached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.copy_services import stop_copies
from tests.support.pg_cluster import SUPERUSER, SUPERUSER_PASSWORD, PgCluster, new_cluster

APP_DB = "app"
SUBSCRIPTION = "green_sub"


@pytest.fixture(autouse=True)
def _no_copy_left_running(tmp_path) -> Iterator[None]:
    """The copies a test started under its own directory end with it (a module's estate stops its own)."""
    yield
    stop_copies(tmp_path)


@dataclass
class BlueGreenClusters:
    blue: PgCluster
    green: PgCluster

    def app_dsn(self, cluster: PgCluster) -> str:
        return cluster.dsn(APP_DB)


def _wait_for_table_sync(green: PgCluster, timeout: float = 30.0) -> None:
    """Every subscribed table copied and streaming ('r'): before that the slot's position says little."""
    deadline = time.monotonic() + timeout
    while green.psql("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'", APP_DB) != "0":
        if time.monotonic() > deadline:
            raise TimeoutError("the subscription's table sync did not finish")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def blue_green() -> Iterator[BlueGreenClusters]:
    blue = new_cluster(prefix="dbops-blue-", extra_conf={"wal_level": "logical"})
    # The subscriber reports its position every second rather than every ten.
    green = new_cluster(prefix="dbops-green-", extra_conf={"wal_receiver_status_interval": "1"})
    try:
        for cluster, colour in ((blue, "blue"), (green, "green")):
            cluster.create_database(APP_DB)
            cluster.psql("CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL);"
                         f"CREATE TABLE colour (side text NOT NULL); INSERT INTO colour VALUES ('{colour}')", APP_DB)
        blue.psql("CREATE PUBLICATION orders_pub FOR TABLE orders", APP_DB)
        green.psql(f"CREATE SUBSCRIPTION {SUBSCRIPTION} CONNECTION 'host={blue.host} port={blue.port} "
                   f"dbname={APP_DB} user={SUPERUSER} password={SUPERUSER_PASSWORD}' PUBLICATION orders_pub", APP_DB)
        _wait_for_table_sync(green)
        yield BlueGreenClusters(blue=blue, green=green)
    finally:
        green.destroy()
        blue.destroy()


@dataclass
class BlueGreenMongo:
    blue_uri: str
    green_uri: str

    @staticmethod
    def address(uri: str) -> tuple[str, int]:
        host, port = uri.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
        return host, int(port)


@pytest.fixture(scope="module")
def blue_green_mongo() -> Iterator[BlueGreenMongo]:
    """Two in-process SecantusDB servers, each with app.colour = [{_id: 1, side: <its colour>}]."""
    import pymongo
    from secantus import SecantusDBServer

    servers = []
    try:
        uris = []
        for colour in ("blue", "green"):
            server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=":memory:")
            server.start()
            servers.append(server)
            uri = server.uri() if callable(server.uri) else server.uri
            with pymongo.MongoClient(uri) as client:
                client[APP_DB].colour.insert_one({"_id": 1, "side": colour})
            uris.append(uri)
        yield BlueGreenMongo(blue_uri=uris[0], green_uri=uris[1])
    finally:
        for server in servers:
            server.stop()

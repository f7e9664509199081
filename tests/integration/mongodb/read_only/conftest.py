"""An authenticated SecantusDB per test: application users with write roles on `shop`, an exempt operator."""

from __future__ import annotations

from collections.abc import Iterator

import pymongo
import pytest

from tests.support.mongo_server import AuthenticatedMongo, authenticated_server

DB = "shop"
PASSWORDS = {"app": "app-pw", "own": "own-pw", "cust": "cust-pw", "reader": "reader-pw", "ops": "ops-pw",
             "adm_app": "adm-pw"}


def provision(client: pymongo.MongoClient) -> None:
    shop = client[DB]
    shop.orders.insert_one({"_id": "seed", "total": 1})
    shop.command("createRole", "order_writer", roles=[],
                 privileges=[{"resource": {"db": DB, "collection": "orders"}, "actions": ["find", "insert"]}])
    shop.command("createUser", "app", pwd=PASSWORDS["app"], roles=["readWrite"])
    shop.command("createUser", "own", pwd=PASSWORDS["own"], roles=["dbOwner", "read"])
    shop.command("createUser", "cust", pwd=PASSWORDS["cust"], roles=["order_writer", {"role": "read", "db": "other"}])
    shop.command("createUser", "reader", pwd=PASSWORDS["reader"], roles=["read"])
    shop.command("createUser", "ops", pwd=PASSWORDS["ops"], roles=["readWrite"])
    client.admin.command("createUser", "adm_app", pwd=PASSWORDS["adm_app"], roles=[{"role": "readWrite", "db": DB}])


@pytest.fixture
def auth_mongo() -> Iterator[AuthenticatedMongo]:
    with authenticated_server(provision) as server:
        yield server


@pytest.fixture
def admin(auth_mongo: AuthenticatedMongo) -> Iterator[pymongo.MongoClient]:
    client = pymongo.MongoClient(auth_mongo.admin_uri)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def connect_as(auth_mongo: AuthenticatedMongo) -> Iterator:
    """connect_as(user, auth_db=DB, **options): a client logged in as one of the provisioned users, closed after."""
    clients: list[pymongo.MongoClient] = []

    def connect(user: str, auth_db: str = DB, **options) -> pymongo.MongoClient:
        clients.append(pymongo.MongoClient(auth_mongo.uri_for(user, PASSWORDS[user], auth_db), **options))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()

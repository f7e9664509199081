"""The application both read-only tests of the two databases fence: MongoDB users on `shop` (app writes, ops is
exempt), and how to read their roles back for an exact before/after comparison."""

from __future__ import annotations

import pymongo

from tests.support.mongo_server import AuthenticatedMongo

DB = "shop"
APP_PW, OPS_PW = "mongo-app-pw", "mongo-ops-pw"


def provision(client: pymongo.MongoClient) -> None:
    client[DB].orders.insert_one({"_id": "seed"})
    client[DB].command("createUser", "app", pwd=APP_PW, roles=["readWrite"])
    client[DB].command("createUser", "ops", pwd=OPS_PW, roles=["readWrite"])


def mongo_roles(mongo: AuthenticatedMongo) -> dict:
    with pymongo.MongoClient(mongo.admin_uri) as client:
        users = client[DB].command("usersInfo", 1)["users"]
    return {user["user"]: sorted((role["role"], role["db"]) for role in user["roles"]) for user in users}

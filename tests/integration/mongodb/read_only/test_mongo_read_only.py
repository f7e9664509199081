"""Emergency read-only mode on an authenticated SecantusDB (no setUserWriteBlockMode: the role revocation path)."""

from __future__ import annotations

import threading
import time

import pymongo
import pytest
from pymongo.errors import OperationFailure, PyMongoError

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import engage
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import (
    ROLE_REVOCATION,
    MongoReadOnlyChange,
)

DB = "shop"  # provisioned by conftest.py


def roles_of_everyone(admin: pymongo.MongoClient) -> dict[str, list]:
    """usersInfo of shop and admin: the thing disable must give back exactly."""
    users = {}
    for db in (DB, "admin"):
        for user in admin[db].command("usersInfo", 1)["users"]:
            users[f"{user['user']}@{user['db']}"] = sorted((r["role"], r["db"]) for r in user["roles"])
    return users


class Writer(threading.Thread):
    """Keeps inserting as one user; every insert carries the moment it was sent."""

    def __init__(self, client: pymongo.MongoClient, collection: str = "writes") -> None:
        super().__init__(daemon=True)
        self.collection = client[DB][collection]
        self.stop_flag = threading.Event()
        self.acks: list[float] = []  # send times of the inserts the server acknowledged
        self.refused = 0
        self.attempts = 0

    def run(self) -> None:
        while not self.stop_flag.is_set():
            sent = time.time()
            self.attempts += 1
            try:
                self.collection.insert_one({"sent_at": sent})
                self.acks.append(sent)
            except PyMongoError:
                self.refused += 1
                time.sleep(0.005)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(10)


def test_enable_refuses_every_application_write_and_disable_restores_roles(admin, connect_as):
    before = roles_of_everyone(admin)
    early = connect_as("app")  # opened and authenticated before the mode engages
    early[DB].early.insert_one({"before": True})
    writer = Writer(connect_as("app", retryWrites=True))
    exempt_writer = Writer(connect_as("ops"), "exempt_writes")
    writer.start()
    exempt_writer.start()
    time.sleep(0.3)
    assert writer.acks, "the application writer must be writing before the mode engages"

    change = engage.plan_enable(admin, DB, ["ops"])
    queries: list[str] = []
    engage.enable(admin, DB, change, queries)
    engaged_at = time.time()
    time.sleep(0.5)
    writer.stop()
    exempt_writer.stop()

    assert change.mode == ROLE_REVOCATION and not change.empty
    assert [t for t in writer.acks if t > engaged_at] == []
    assert admin[DB].writes.count_documents({"sent_at": {"$gt": engaged_at}}) == 0
    assert writer.refused > 0
    assert [t for t in exempt_writer.acks if t > engaged_at], "the exempt user keeps writing"
    with pytest.raises(PyMongoError):
        early[DB].early.insert_one({"after": True})
    assert admin[DB].early.count_documents({"after": True}) == 0
    fresh = connect_as("app")
    with pytest.raises(OperationFailure):
        fresh[DB].orders.insert_one({"x": 1})
    assert fresh[DB].orders.find_one({"_id": "seed"}) is not None, "reads keep working"
    assert any("killOp" in q for q in queries) and any("revokeRolesFromUser" in q for q in queries)

    previous = change.to_dict()
    engage.disable(admin, DB, MongoReadOnlyChange.from_dict(previous).to_dict(), queries)
    assert roles_of_everyone(admin) == before
    connect_as("app")[DB].orders.insert_one({"after_disable": True})


def test_plan_records_exactly_the_write_roles_and_changes_nothing(admin):
    before = roles_of_everyone(admin)
    change = engage.plan_enable(admin, DB, ["ops"])
    assert roles_of_everyone(admin) == before, "plan_enable only reads"
    assert change.revoked == {
        "adm_app@admin": [{"role": "readWrite", "db": DB}],
        "app@shop": [{"role": "readWrite", "db": DB}],
        "cust@shop": [{"role": "order_writer", "db": DB}],
        "own@shop": [{"role": "dbOwner", "db": DB}],
    }
    # own already held read: it is not recorded as granted, so disable never takes it away.
    assert change.granted == {"adm_app@admin": [{"role": "read", "db": DB}], "app@shop": [{"role": "read", "db": DB}]}
    assert "ops@shop" not in change.application_users and "dbops_root@admin" not in change.application_users
    assert "reader@shop" in change.application_users and "reader@shop" not in change.revoked
    assert any("order_writer" in note for note in change.notes)
    assert MongoReadOnlyChange.from_dict(change.to_dict()) == change


def test_enable_and_disable_are_idempotent(admin):
    before = roles_of_everyone(admin)
    change = engage.plan_enable(admin, DB, [])
    engage.enable(admin, DB, change, [])
    during = roles_of_everyone(admin)
    again = engage.plan_enable(admin, DB, [])
    assert again.empty, again.to_dict()
    queries: list[str] = []
    engage.enable(admin, DB, again, queries)
    assert queries == [] and roles_of_everyone(admin) == during
    engage.disable(admin, DB, change.to_dict(), [])
    assert roles_of_everyone(admin) == before
    queries = []
    engage.disable(admin, DB, change.to_dict(), queries)
    assert queries == [] and roles_of_everyone(admin) == before


def test_disable_grants_nothing_new_and_leaves_roles_granted_meanwhile(admin):
    change = engage.plan_enable(admin, DB, [])
    engage.enable(admin, DB, change, [])
    admin[DB].command("grantRolesToUser", "reader", roles=[{"role": "dbAdmin", "db": DB}])  # someone else's grant
    admin[DB].command("revokeRolesFromUser", "reader", roles=[{"role": "read", "db": DB}])
    engage.disable(admin, DB, change.to_dict(), [])
    reader = admin[DB].command("usersInfo", "reader")["users"][0]
    assert sorted(r["role"] for r in reader["roles"]) == ["dbAdmin"]


def test_verify_probes_each_application_user(auth_mongo, admin):
    change = engage.plan_enable(admin, DB, ["ops"])
    engage.enable(admin, DB, change, [])
    probes: list[dict] = []
    engage.verify(auth_mongo.admin_uri, DB, change, probes)
    by_user = {p["user"]: p for p in probes}
    assert set(by_user) == set(change.application_users)
    for user in ("app@shop", "own@shop", "adm_app@admin", "reader@shop"):
        assert by_user[user]["write_refused"] and by_user[user]["read_ok"], by_user[user]
    assert by_user["cust@shop"]["write_refused"]
    users = admin[DB].command("usersInfo", 1)["users"]
    assert not [u for u in users if u["user"].startswith("dbops_read_only_probe_")], "probe users are dropped"
    assert "dbops_read_only_probe" not in admin[DB].list_collection_names()

    engage.disable(admin, DB, change.to_dict(), [])
    after: list[dict] = []
    engage.verify(auth_mongo.admin_uri, DB, None, after)
    writable = {p["user"]: p["write_refused"] for p in after}
    assert writable["app@shop"] is False and writable["reader@shop"] is True

    # The undo's own proof: as each user the mode fenced, a write is accepted again.
    lifted: list[dict] = []
    engage.verify(auth_mongo.admin_uri, DB, change, lifted, lifted=True)
    by_user = {p["user"]: p for p in lifted}
    assert by_user["app@shop"]["ok"] and by_user["app@shop"]["outcome"] == "write accepted, read ok"
    assert by_user["reader@shop"]["outcome"].startswith("skipped")  # it never wrote: nothing to be accepted again


def test_secantus_keeps_the_roles_an_open_connection_authenticated_with(admin, connect_as):
    """Why enable() ends the users' connections: on SecantusDB a revoke alone does not reach an open connection."""
    early = connect_as("app")
    early[DB].early.insert_one({"before": True})
    admin[DB].command("revokeRolesFromUser", "app", roles=[{"role": "readWrite", "db": DB}])
    early[DB].early.insert_one({"after_revoke": True})  # accepted: the connection kept its roles
    with pytest.raises(OperationFailure):
        connect_as("app")[DB].early.insert_one({"new_connection": True})
    admin[DB].command("grantRolesToUser", "app", roles=[{"role": "readWrite", "db": DB}])


def test_a_write_in_an_open_transaction_does_not_commit_after_enable(admin, connect_as):
    early = connect_as("app")
    with early.start_session() as session:
        session.start_transaction()
        early[DB].in_txn.insert_one({"inside": True}, session=session)
        change = engage.plan_enable(admin, DB, [])
        engage.enable(admin, DB, change, [])
        with pytest.raises(PyMongoError):
            session.commit_transaction()
    assert admin[DB].in_txn.count_documents({}) == 0
    engage.disable(admin, DB, change.to_dict(), [])

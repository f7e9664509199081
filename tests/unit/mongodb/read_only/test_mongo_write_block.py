"""The setUserWriteBlockMode path (MongoDB 6.0+), on recorded replies: SecantusDB has no such command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from pymongo.errors import OperationFailure

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import engage, write_block
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import (
    ROLE_REVOCATION,
    WRITE_BLOCK,
    MongoReadOnlyChange,
)

FIXTURES = Path(__file__).parent / "fixtures"


def reply(name: str) -> dict[str, Any]:
    return json_util.loads((FIXTURES / name).read_text())


class FakeServer:
    """Answers the read commands from recorded replies and records every other command (unit tests only)."""

    def __init__(self, list_commands: str, server_status: str, users: dict[str, str],
                 users_on_shop: list[dict[str, Any]], bypass_role: bool = False) -> None:
        self.list_commands = reply(list_commands)
        self.server_status = reply(server_status)
        self.users = {identity: reply(name) for identity, name in users.items()}
        self.users_on_shop = users_on_shop
        self.bypass_role = bypass_role
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.refuse_users_info = False
        self.admin = self["admin"]

    def __getitem__(self, database: str) -> FakeDatabase:
        return FakeDatabase(self, database)


class FakeDatabase:
    def __init__(self, server: FakeServer, name: str) -> None:
        self.server, self.name = server, name

    def command(self, command: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(command))
        server = self.server
        if name == "listCommands":
            if server.list_commands.get("ok") != 1:
                raise OperationFailure(server.list_commands["errmsg"], server.list_commands["code"],
                                       server.list_commands)
            return server.list_commands
        if name == "serverStatus":
            return server.server_status
        if name == "connectionStatus":
            return {"authInfo": {"authenticatedUsers": [{"user": "dbops", "db": "admin"}]}, "ok": 1.0}
        if name == "usersInfo":
            if server.refuse_users_info:
                raise OperationFailure("not authorized on shop to execute command usersInfo", 13,
                                       {"ok": 0, "code": 13, "errmsg": "not authorized"})
            return self._users_info(command["usersInfo"])
        if name == "currentOp":
            killed = {c["op"] for _name, c in server.sent if "killOp" in c}
            ops = reply("mongod_currentOp.json")
            return {"inprog": [op for op in ops["inprog"] if op.get("opid") not in killed], "ok": 1.0}
        if name == "rolesInfo":
            return {"roles": [{"role": write_block.BYPASS_ROLE, "db": "admin"}] if server.bypass_role else []}
        server.sent.append((self.name, command))
        return {"ok": 1.0}

    def _users_info(self, argument: Any) -> dict[str, Any]:
        if isinstance(argument, str):
            found = self.server.users.get(f"{argument}@{self.name}")
            return found or {"users": [], "ok": 1.0}
        if argument == 1 and self.name == "shop":
            return {"users": self.server.users_on_shop, "ok": 1.0}
        return {"users": [], "ok": 1.0}


APP = {"user": "app", "db": "shop", "roles": [{"role": "readWrite", "db": "shop"}]}
OPS = {"user": "ops", "db": "shop", "roles": [{"role": "readWrite", "db": "shop"}]}


def mongod(server_status: str = "mongod_serverStatus_unblocked.json", bypass_role: bool = False) -> FakeServer:
    users = {"dbops@admin": "mongod_usersInfo_root_bypass.json", "ops@shop": "mongod_usersInfo_ops_no_bypass.json"}
    return FakeServer("mongod_listCommands.json", server_status, users, [APP, OPS], bypass_role)


def test_detection_asks_the_server_not_the_version():
    assert write_block.available(mongod())
    secantus = FakeServer("secantus_listCommands.json", "secantus_serverStatus.json", {}, [])
    assert not write_block.available(secantus)


@pytest.mark.parametrize(("status", "on"), [("mongod_serverStatus_unblocked.json", False),
                                            ("mongod_serverStatus_blocked.json", True),
                                            ("secantus_serverStatus.json", False)])
def test_block_state_is_read_from_server_status(status, on):
    assert write_block.block_is_on(reply(status)) is on


def test_bypass_privilege_is_read_from_the_users_privileges():
    assert write_block.has_bypass(reply("mongod_usersInfo_root_bypass.json")["users"][0])
    assert not write_block.has_bypass(reply("mongod_usersInfo_ops_no_bypass.json")["users"][0])


def test_plan_blocks_writes_and_gives_only_the_exempt_users_without_it_the_bypass():
    server = mongod()
    change = engage.plan_enable(server, "shop", ["ops"])
    assert change.mode == WRITE_BLOCK and change.write_block_set and change.bypass_role_created
    assert change.bypass_granted == ["ops@shop"]  # dbops (the connected user) already has the privilege
    assert change.application_users == ["app@shop"]
    assert any("every database" in note for note in change.notes)
    assert server.sent == [], "plan_enable only reads"


def test_enable_then_disable_sends_exactly_the_recorded_commands():
    server = mongod()
    change = engage.plan_enable(server, "shop", ["ops"])
    queries: list[str] = []
    engage.enable(server, "shop", change, queries)
    assert [(db, next(iter(c))) for db, c in server.sent] == [
        ("admin", "createRole"), ("shop", "grantRolesToUser"), ("admin", "setUserWriteBlockMode"),
        ("admin", "killAllSessionsByPattern"), ("admin", "killOp")]
    assert server.sent[2][1] == {"setUserWriteBlockMode": 1, "global": True}
    # Only the application user's operation is ended, never the collection's own.
    assert server.sent[3][1]["killAllSessionsByPattern"] == [{"users": [{"user": "app", "db": "shop"}]}]
    assert server.sent[4][1] == {"killOp": 1, "op": 4711}
    assert len(queries) == 5 and "setUserWriteBlockMode" in queries[2]

    blocked = mongod("mongod_serverStatus_blocked.json", bypass_role=True)
    assert engage.plan_enable(blocked, "shop", ["ops"]).empty, "enabling twice changes nothing"
    engage.disable(blocked, "shop", change.to_dict(), queries)
    assert [(db, next(iter(c))) for db, c in blocked.sent] == [
        ("admin", "setUserWriteBlockMode"), ("shop", "revokeRolesFromUser"), ("admin", "dropRole")]
    assert blocked.sent[0][1] == {"setUserWriteBlockMode": 1, "global": False}


def test_a_block_someone_else_set_is_left_on():
    server = mongod("mongod_serverStatus_blocked.json")
    change = engage.plan_enable(server, "shop", [])
    assert change.empty and not change.write_block_set
    engage.disable(server, "shop", change.to_dict(), [])
    assert server.sent == []


def test_without_the_command_the_roles_are_revoked_instead():
    secantus = FakeServer("secantus_listCommands.json", "secantus_serverStatus.json",
                          {"app@shop": "secantus_usersInfo_app.json"}, [APP])
    change = engage.plan_enable(secantus, "shop", [])
    assert change.mode == ROLE_REVOCATION
    assert change.revoked == {"app@shop": [{"role": "readWrite", "db": "shop"}]}
    assert change.granted == {"app@shop": [{"role": "read", "db": "shop"}]}


def test_change_round_trips_through_json():
    change = engage.plan_enable(mongod(), "shop", ["ops"])
    assert MongoReadOnlyChange.from_dict(json_util.loads(json_util.dumps(change.to_dict()))) == change


def test_a_change_for_another_database_is_refused():
    change = engage.plan_enable(mongod(), "shop", [])
    with pytest.raises(ValueError, match="shop"):
        engage.enable(mongod(), "other", change, [])


def test_a_refused_users_listing_stops_the_plan_instead_of_freezing_nothing():
    secantus = FakeServer("secantus_listCommands.json", "secantus_serverStatus.json", {}, [APP])
    secantus.refuse_users_info = True
    with pytest.raises(DbopsError, match="planning read-only mode for shop.*not authorized"):
        engage.plan_enable(secantus, "shop", [])

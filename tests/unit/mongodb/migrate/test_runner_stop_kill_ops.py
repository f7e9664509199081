"""killOp of a stuck runner's operations, on mongod's recorded $currentOp reply (SecantusDB lists operations but
reports no opid and cannot interrupt one, so this path is covered here)."""

from __future__ import annotations

from typing import Any

import pymongo.errors

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.lock import runner_app_name
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.runner_stop import kill_operations

APP = runner_app_name("app-host-2", 4242)

# What mongod 7.0 returns for $currentOp (abridged to the fields read): the runner's updateMany in progress.
CURRENT_OP_REPLY = [
    {"type": "op", "host": "db1:27017", "desc": "conn118", "connectionId": 118, "client": "10.0.4.2:51544",
     "appName": APP, "clientMetadata": {"application": {"name": APP}}, "active": True, "opid": 90817,
     "secs_running": 41, "op": "update", "ns": "shop.orders",
     "command": {"q": {"status": {"$exists": False}}, "u": {"$set": {"status": "new"}}, "multi": True}},
]


class FakeAdmin:
    def __init__(self, ops: list[dict[str, Any]], kill_error: Exception | None = None) -> None:
        self.ops = ops
        self.kill_error = kill_error
        self.pipelines: list[list[dict[str, Any]]] = []
        self.killed: list[int] = []

    def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.pipelines.append(pipeline)
        wanted = pipeline[1]["$match"]["appName"]
        return [op for op in self.ops if op.get("appName") == wanted]

    def command(self, name: str, **fields: Any) -> dict[str, Any]:
        assert name == "killOp"
        if self.kill_error is not None:
            raise self.kill_error
        self.killed.append(fields["op"])
        return {"info": "attempting to kill op", "ok": 1.0}


class FakeClient:
    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin


def test_the_runners_operations_are_found_by_its_app_name_and_killed():
    admin = FakeAdmin(CURRENT_OP_REPLY + [{"appName": "someone else", "opid": 1}])
    queries: list[str] = []
    killed, why_not = kill_operations(FakeClient(admin), APP, queries)
    assert (killed, why_not, admin.killed) == ([90817], None, [90817])
    assert admin.pipelines[0][0] == {"$currentOp": {"allUsers": True, "idleConnections": False}}
    assert any("killOp: 1, op: 90817" in query for query in queries)


def test_a_server_that_cannot_list_or_kill_is_reported_not_raised():
    class Refusing(FakeAdmin):
        def aggregate(self, pipeline):
            raise pymongo.errors.OperationFailure("not authorized on admin to execute command", code=13)

    killed, why_not = kill_operations(FakeClient(Refusing([])), APP, [])
    assert killed == [] and "cannot list operations" in why_not

    failing = FakeAdmin(CURRENT_OP_REPLY, kill_error=pymongo.errors.OperationFailure("denied", code=13))
    killed, why_not = kill_operations(FakeClient(failing), APP, [])
    assert killed == [] and why_not.startswith("killOp 90817 failed")


def test_an_operation_without_an_opid_is_skipped():
    admin = FakeAdmin([{"appName": APP, "desc": "$currentOp"}])
    assert kill_operations(FakeClient(admin), APP, []) == ([], None)

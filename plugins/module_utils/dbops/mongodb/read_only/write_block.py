"""Read-only mode through setUserWriteBlockMode (MongoDB 6.0+): the server refuses every user write, on all
databases of the deployment, except from users holding the bypassWriteBlockingMode privilege.

Whether the server has the command is asked, not guessed from a version: listCommands names it or not (SecantusDB
has no listCommands and no setUserWriteBlockMode). Whether the block is already on is read from serverStatus
(repl.userWriteBlockMode: 1 unknown, 2 disabled, 3 enabled; newer servers may name a reason). A block that was on
before is not ours: it is recorded as not set by us, so disable() leaves it on. Exempt users get the privilege
through one role the collection creates (BYPASS_ROLE on admin), recorded per user so disable() takes back only that.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.change import (
    WRITE_BLOCK,
    MongoReadOnlyChange,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.command_log import run_change
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only.users import split_user_id

COMMAND = "setUserWriteBlockMode"
BYPASS_ACTION = "bypassWriteBlockingMode"
BYPASS_ROLE = "dbops_write_block_bypass"
_ENABLED = 3
CLUSTER_WIDE_NOTE = ("setUserWriteBlockMode blocks user writes on every database of the deployment, not only "
                     "this one; exempt users write through the bypassWriteBlockingMode privilege")


def available(client: Any) -> bool:
    try:
        reply = client.admin.command({"listCommands": 1})
    except pymongo_errors.OperationFailure:
        return False
    return COMMAND in (reply.get("commands") or {})


def block_is_on(server_status: dict[str, Any]) -> bool:
    mode = (server_status.get("repl") or {}).get("userWriteBlockMode")
    if isinstance(mode, dict):
        mode = mode.get("global")
    if isinstance(mode, bool):
        return mode
    if isinstance(mode, int):
        return mode == _ENABLED
    if isinstance(mode, str):
        return mode.lower() not in ("", "unknown", "disabled", "kunknown", "kdisabled")
    return False


def has_bypass(user_info: dict[str, Any]) -> bool:
    for key in ("inheritedPrivileges", "privileges"):
        for privilege in user_info.get(key) or []:
            if privilege.get("resource", {}).get("cluster") and BYPASS_ACTION in privilege.get("actions", []):
                return True
    return False


def _user_info(client: Any, identity: str) -> dict[str, Any] | None:
    name, db = split_user_id(identity)
    reply = client[db].command({"usersInfo": name, "showPrivileges": True})
    users = reply.get("users", [])
    return users[0] if users else None


def _role_exists(client: Any) -> bool:
    reply = client.admin.command({"rolesInfo": {"role": BYPASS_ROLE, "db": "admin"}})
    return bool(reply.get("roles"))


def plan(client: Any, database: str, exempt_ids: list[str], application_users: list[str]) -> MongoReadOnlyChange:
    change = MongoReadOnlyChange(database=database, mode=WRITE_BLOCK, application_users=list(application_users),
                                 notes=[CLUSTER_WIDE_NOTE])
    if block_is_on(client.admin.command({"serverStatus": 1})):
        change.notes.append("the user write block is already on: nothing to change (a block this plan did not set "
                            "stays on after disable)")
        return change
    change.write_block_set = True
    change.bypass_role_created = not _role_exists(client)
    for identity in exempt_ids:
        info = _user_info(client, identity)
        if info is not None and not has_bypass(info):
            change.bypass_granted.append(identity)
    for identity in application_users:
        info = _user_info(client, identity)
        if info is not None and has_bypass(info):
            change.notes.append(f"{identity} holds bypassWriteBlockingMode and can still write")
    return change


def enable(client: Any, change: MongoReadOnlyChange, queries: list[str]) -> None:
    if change.bypass_role_created and not _role_exists(client):
        _run(client, {"createRole": BYPASS_ROLE, "roles": [],
                      "privileges": [{"resource": {"cluster": True}, "actions": [BYPASS_ACTION]}]}, queries, "admin")
    for identity in change.bypass_granted:
        name, db = split_user_id(identity)
        _run(client, {"grantRolesToUser": name, "roles": [{"role": BYPASS_ROLE, "db": "admin"}]}, queries, db)
    if change.write_block_set:
        _run(client, {COMMAND: 1, "global": True}, queries, "admin")


def disable(client: Any, previous: MongoReadOnlyChange, queries: list[str]) -> None:
    if previous.write_block_set:
        _run(client, {COMMAND: 1, "global": False}, queries, "admin")
    for identity in previous.bypass_granted:
        name, db = split_user_id(identity)
        if _user_info(client, identity) is not None:
            _run(client, {"revokeRolesFromUser": name, "roles": [{"role": BYPASS_ROLE, "db": "admin"}]}, queries, db)
    if previous.bypass_role_created and _role_exists(client):
        _run(client, {"dropRole": BYPASS_ROLE}, queries, "admin")


def _run(client: Any, command: dict[str, Any], queries: list[str], database: str) -> None:
    try:
        run_change(client, database, command, queries)
    except pymongo_errors.OperationFailure as exc:
        raise DbopsError(f"MongoDB refused {next(iter(command))}: {describe_error(exc)}") from None

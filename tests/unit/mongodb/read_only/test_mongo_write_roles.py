"""Which roles read-only mode revokes and what it grants instead; the command log never shows a password."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.read_only import command_log, write_roles


class RolesOnly:
    """rolesInfo from a dict of custom roles (unit tests only)."""

    def __init__(self, roles: dict[str, dict[str, Any]]) -> None:
        self.roles = roles

    def __getitem__(self, _database: str) -> RolesOnly:
        return self

    def command(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["rolesInfo"][0]["role"]
        return {"roles": [self.roles[name]] if name in self.roles else []}


def test_builtin_writers_become_read_and_admin_roles_get_no_replacement():
    client = RolesOnly({})
    verdicts = {name: write_roles.judge(client, {"role": name, "db": "shop"})
                for name in ("readWrite", "dbOwner", "dbAdmin", "userAdmin", "read")}
    assert {n: (v.writes, v.replacement) for n, v in verdicts.items()} == {
        "readWrite": (True, "read"), "dbOwner": (True, "read"), "dbAdmin": (True, None),
        "userAdmin": (True, None), "read": (False, None)}


def test_custom_roles_are_judged_by_all_their_privileges():
    client = RolesOnly({
        "reporting": {"privileges": [{"resource": {"db": "shop", "collection": ""}, "actions": ["find", "collStats"]}]},
        "loader": {"privileges": [], "inheritedPrivileges": [
            {"resource": {"db": "shop", "collection": "orders"}, "actions": ["find", "insert"]}]},
        "odd": {"privileges": [{"resource": {"db": "shop", "collection": ""}, "actions": ["someFutureAction"]}]},
    })
    assert not write_roles.judge(client, {"role": "reporting", "db": "shop"}).writes
    loader = write_roles.judge(client, {"role": "loader", "db": "shop"})
    assert loader.writes and loader.replacement is None and "insert" in (loader.note or "")
    assert write_roles.judge(client, {"role": "odd", "db": "shop"}).writes, "unknown actions count as writes"
    missing = write_roles.judge(client, {"role": "gone", "db": "shop"})
    assert missing.writes and "could not be inspected" in (missing.note or "")


def test_command_log_masks_passwords():
    text = command_log.describe("shop", {"createUser": "probe", "pwd": "s3cret-value", "roles": []})
    assert "s3cret-value" not in text and "createUser" in text

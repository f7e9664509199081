"""create_index / drop_index. A dropped index's full specification (keys and every option) is kept in the
ledger, so the rollback rebuilds exactly the index that was there."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base

INDEX_NOT_FOUND = 27
NAMESPACE_NOT_FOUND = 26
# Fields of listIndexes' reply that describe the server's bookkeeping, not the index the user asked for.
_NOT_SPEC = ("v", "ns")
_DIRECTIONS = (1, -1, "2d", "2dsphere", "text", "hashed")


def parse_keys(value: Any) -> list[tuple[str, Any]]:
    """Index keys in order: a mapping ({a: 1, b: -1}) or a list of [field, direction] pairs."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise base.SpecError("'keys' must be a mapping {field: 1|-1|...} or a list of [field, direction] pairs")
    if not pairs:
        raise base.SpecError("'keys' must name at least one field")
    for name, direction in pairs:
        base.field_path(str(name), "index key")
        if direction not in _DIRECTIONS or isinstance(direction, bool):
            raise base.SpecError(f"index direction of {name!r} must be one of {', '.join(map(str, _DIRECTIONS))}")
    return [(str(k), v) for k, v in pairs]


def default_name(keys: list[tuple[str, Any]]) -> str:
    """MongoDB's own naming rule (field_direction joined by _), so plans name the index the server will."""
    return "_".join(f"{k}_{v}" for k, v in keys)


def index_spec(env: base.OpEnv, collection: str, name: str) -> dict[str, Any] | None:
    try:
        for spec in env.db[collection].list_indexes():
            if spec["name"] == name:
                return {k: v for k, v in spec.items() if k not in _NOT_SPEC}
    except pymongo_errors.OperationFailure as exc:
        if exc.code == NAMESPACE_NOT_FOUND:
            return None
        raise
    return None


def create_from_spec(env: base.OpEnv, collection: str, spec: dict[str, Any]) -> None:
    env.db.command("createIndexes", collection, indexes=[spec])


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return list(dict(a["key"]).items()) == list(dict(b["key"]).items()) and {
        k: v for k, v in a.items() if k != "key"} == {k: v for k, v in b.items() if k != "key"}


class CreateIndex(base.CollectionOperation):
    kind = "create_index"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.keys = parse_keys(spec.any("keys"))
        self.options = dict(spec.mapping("options", required=False, default={}))
        if "name" in self.options and "name" in spec.args:
            raise base.SpecError("give the index name once: 'name' or 'options.name'")
        self.name = spec.str("name", required=False) or self.options.pop("name", None) or default_name(self.keys)
        self.options.pop("background", None)  # ignored by MongoDB since 4.2; not part of the spec
        if "key" in self.options or "v" in self.options:
            raise base.SpecError("'options' must not contain 'key' or 'v'")

    def wanted(self) -> dict[str, Any]:
        return {"key": dict(self.keys), "name": self.name, **self.options}

    def describe(self) -> str:
        opts = {"name": self.name, **self.options}
        return f"db.{self.collection}.createIndex({base.show(dict(self.keys))}, {base.show(opts)})"

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        existing = index_spec(env, self.collection, self.name)
        if existing is not None and not _same(existing, self.wanted()):
            raise MigrationFailed(f"create_index: {self.collection} already has an index named {self.name} with a "
                                  f"different specification {base.show(existing)}")
        return {"collection": self.collection, "name": self.name, "existed": existing is not None,
                "collection_existed": env.collection_exists(self.collection)}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        if inverse.get("existed"):
            return
        try:
            create_from_spec(env, self.collection, self.wanted())
        except pymongo_errors.OperationFailure as exc:
            raise MigrationFailed(f"create_index {self.name} on {self.collection} failed: "
                                  f"{describe_error(exc)}") from exc

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        drop_created_index(env, inverse)

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        if inverse and inverse.get("existed"):
            return f"// {self.collection}.{self.name} existed before: left in place"
        return f"db.{self.collection}.dropIndex({base.show(self.name)})"


def drop_created_index(env: base.OpEnv, inverse: dict[str, Any]) -> None:
    if inverse.get("existed"):
        return
    collection = inverse["collection"]
    try:
        env.db[collection].drop_index(inverse["name"])
    except pymongo_errors.OperationFailure as exc:
        if exc.code not in (INDEX_NOT_FOUND, NAMESPACE_NOT_FOUND):
            raise
    # createIndexes created the collection: a rollback leaves no empty collection behind.
    if (not inverse.get("collection_existed", True) and env.collection_exists(collection)
            and env.db[collection].find_one() is None):
        env.db.drop_collection(collection)


class DropIndex(base.CollectionOperation):
    kind = "drop_index"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.name = spec.str("name")
        self.missing_ok = spec.bool("missing_ok")
        if self.name == "_id_":
            raise base.SpecError("the _id index cannot be dropped")

    def describe(self) -> str:
        exists = " // if it exists" if self.missing_ok else ""
        return f"db.{self.collection}.dropIndex({base.show(self.name)}){exists}"

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        spec = index_spec(env, self.collection, self.name)
        if spec is None and not self.missing_ok:
            raise MigrationFailed(f"drop_index: {self.collection} has no index named {self.name} (set missing_ok: "
                                  "true if that is expected)")
        return {"collection": self.collection, "name": self.name, "spec": spec}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        if inverse.get("spec") is None:
            env.warnings.append(f"drop_index: {self.collection}.{self.name} did not exist; nothing dropped")
            return
        try:
            env.db[self.collection].drop_index(self.name)
        except pymongo_errors.OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:  # already dropped by an interrupted earlier attempt
                raise

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        spec = inverse.get("spec")
        if spec is None or index_spec(env, self.collection, self.name) is not None:
            return
        create_from_spec(env, inverse["collection"], spec)

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        spec = (inverse or {}).get("spec")
        if inverse is not None and spec is None:
            return f"// {self.collection}.{self.name} did not exist: nothing to restore"
        if spec is None:
            return f"db.{self.collection}.createIndex(<the spec of {self.name} recorded when it is dropped>)"
        opts = {k: v for k, v in spec.items() if k != "key"}
        return f"db.{self.collection}.createIndex({base.show(dict(spec['key']))}, {base.show(opts)})"

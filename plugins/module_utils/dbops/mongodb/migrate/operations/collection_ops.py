"""create_collection / rename_collection / drop_collection."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.validators import (
    normalized,
    validation_of,
)

# Options of the create command a migration may set (the rest belong to the server or to time-series/views).
CREATE_OPTIONS = ("validator", "validationLevel", "validationAction", "capped", "size", "max", "collation",
                  "changeStreamPreAndPostImages", "clusteredIndex", "expireAfterSeconds", "timeseries")


class CreateCollection(base.Operation):
    kind = "create_collection"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.name = base.collection_name(spec.str("name"))
        self.options = spec.mapping("options", required=False, default={})
        self.exist_ok = spec.bool("exist_ok")
        unknown = sorted(set(self.options) - set(CREATE_OPTIONS))
        if unknown:
            raise base.SpecError(f"unknown create option(s) {', '.join(unknown)} "
                                 f"(allowed: {', '.join(CREATE_OPTIONS)})")

    def describe(self) -> str:
        return f"db.createCollection({base.show(self.name)}{', ' + base.show(self.options) if self.options else ''})"

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        exists = env.collection_exists(self.name)
        if exists and not self.exist_ok:
            raise MigrationFailed(f"create_collection: {self.name} already exists (set exist_ok: true to accept it "
                                  "as it is)")
        return {"name": self.name, "existed": exists}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        if inverse.get("existed") or env.collection_exists(self.name):
            return
        env.db.create_collection(self.name, **self.options)

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        if inverse.get("existed") or not env.collection_exists(inverse["name"]):
            return
        left = env.db[inverse["name"]].count_documents({}, limit=1)
        if left:
            count = env.db[inverse["name"]].estimated_document_count()
            env.warnings.append(f"create_collection rollback: {inverse['name']} still held {count} documents that no "
                                "operation of this set had written; dropped with the collection")
        env.db.drop_collection(inverse["name"])

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        if inverse and inverse.get("existed"):
            return f"// {self.name} existed before: left in place"
        return f"db.{self.name}.drop()"


class RenameCollection(base.Operation):
    kind = "rename_collection"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.source = base.collection_name(spec.str("from"))
        self.target = base.collection_name(spec.str("to"))
        if self.source == self.target:
            raise base.SpecError("'from' and 'to' must differ")

    def describe(self) -> str:
        return f"db.{self.source}.renameCollection({base.show(self.target)})"

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        info = env.collection_info(self.source)
        if info is None:
            raise MigrationFailed(f"rename_collection: {self.source} does not exist")
        if env.collection_exists(self.target):
            raise MigrationFailed(f"rename_collection: {self.target} already exists (renaming would drop it)")
        return {"from": self.source, "to": self.target, "validation": validation_of(info)}

    def _rename(self, env: base.OpEnv, source: str, target: str, validation: dict[str, Any] | None) -> None:
        if env.collection_exists(source) or not env.collection_exists(target):  # else done by an earlier attempt
            env.db.client.admin.command("renameCollection", f"{env.db.name}.{source}",
                                        to=f"{env.db.name}.{target}")
        # The collection keeps its validation options on MongoDB; some compatible servers lose them on rename.
        if validation and validation.get("validator") is not None:
            now = validation_of(env.collection_info(target))
            if normalized(now) != normalized(validation):
                wanted = normalized(validation)
                env.db.command("collMod", target, validator=wanted["validator"], validationLevel=wanted["level"],
                               validationAction=wanted["action"])
                env.warnings.append(f"rename_collection: the server dropped the validator of {target} when renaming; "
                                    "it was set again")

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        self._rename(env, inverse["from"], inverse["to"], inverse.get("validation"))

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        self._rename(env, inverse["to"], inverse["from"], inverse.get("validation"))

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return f"db.{self.target}.renameCollection({base.show(self.source)})"


class DropCollection(base.Operation):
    """Destroys data: refused unless allow_destructive, and irreversible (the rollback stops before anything)."""

    kind = "drop_collection"
    irreversible = True

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.name = base.collection_name(spec.str("name"))

    def describe(self) -> str:
        return f"db.{self.name}.drop()"

    def destructive(self, env: base.OpEnv) -> list[str]:
        if not env.collection_exists(self.name):
            return []
        count = env.db[self.name].estimated_document_count()
        return [f"drop_collection {self.name} ({count} documents)"]

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        return {"name": self.name, "existed": env.collection_exists(self.name)}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        env.db.drop_collection(self.name)

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        if inverse.get("existed"):
            raise MigrationFailed(f"drop_collection {self.name} cannot be undone: its documents are gone")

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return f"// drop_collection {self.name} is irreversible"

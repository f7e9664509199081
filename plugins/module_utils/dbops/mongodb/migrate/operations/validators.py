"""set_validator: a collection's validator ($jsonSchema or query), validationLevel and validationAction.
The previous three are recorded before collMod, and the rollback puts them back."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base

LEVELS = ("off", "strict", "moderate")
ACTIONS = ("error", "warn")
# What a collection without these options behaves like (collMod cannot remove the keys, only reset them).
DEFAULT_LEVEL = "strict"
DEFAULT_ACTION = "error"


def validation_of(info: dict[str, Any] | None) -> dict[str, Any]:
    options = (info or {}).get("options") or {}
    return {"validator": options.get("validator"), "level": options.get("validationLevel"),
            "action": options.get("validationAction")}


def normalized(validation: dict[str, Any]) -> dict[str, Any]:
    """Validation settings as the server enforces them: no validator == {}, absent level/action == defaults."""
    return {"validator": validation.get("validator") or {}, "level": validation.get("level") or DEFAULT_LEVEL,
            "action": validation.get("action") or DEFAULT_ACTION}


class SetValidator(base.CollectionOperation):
    kind = "set_validator"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.validator = spec.mapping("validator")
        self.level = spec.str("level", required=False, default=DEFAULT_LEVEL)
        self.action = spec.str("action", required=False, default=DEFAULT_ACTION)
        if self.level not in LEVELS:
            raise base.SpecError(f"'level' must be one of {', '.join(LEVELS)}")
        if self.action not in ACTIONS:
            raise base.SpecError(f"'action' must be one of {', '.join(ACTIONS)}")

    def describe(self) -> str:
        return (f"db.runCommand({{collMod: {base.show(self.collection)}, validator: {base.show(self.validator)}, "
                f"validationLevel: {base.show(self.level)}, validationAction: {base.show(self.action)}}})")

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        info = env.collection_info(self.collection)
        if info is None:
            raise MigrationFailed(f"set_validator: collection {self.collection} does not exist (create it first with "
                                  "create_collection, which takes a validator too)")
        try:
            invalid = env.db[self.collection].count_documents({"$nor": [self.validator]}, limit=1000)
        except pymongo_errors.OperationFailure:
            invalid = None
        if invalid:
            env.warnings.append(f"set_validator: {invalid}{'+' if invalid >= 1000 else ''} existing documents of "
                                f"{self.collection} do not match the new validator (they stay; updates to them "
                                f"{'fail' if self.action == 'error' else 'log a warning'} at level {self.level})")
        return {"collection": self.collection, "previous": validation_of(info)}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        env.db.command("collMod", self.collection, validator=self.validator, validationLevel=self.level,
                       validationAction=self.action)

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        previous = normalized(inverse["previous"])
        env.db.command("collMod", inverse["collection"], validator=previous["validator"],
                       validationLevel=previous["level"], validationAction=previous["action"])

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        if inverse is None:
            return (f"db.runCommand({{collMod: {base.show(self.collection)}, "
                    "<the validator, level and action recorded>})")
        previous = normalized(inverse["previous"])
        return (f"db.runCommand({{collMod: {base.show(self.collection)}, "
                f"validator: {base.show(previous['validator'])}, validationLevel: {base.show(previous['level'])}, "
                f"validationAction: {base.show(previous['action'])}}})")

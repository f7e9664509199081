"""update_many with an update document or an aggregation pipeline. Its inverse cannot be computed in general,
so mongodb.yml must give it (inverse: {filter, update}); a $unset of fields that hold data is destructive."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations import base


def _check_update(update: Any, what: str) -> Any:
    if isinstance(update, list):
        if not update or not all(isinstance(stage, dict) and len(stage) == 1 for stage in update):
            raise base.SpecError(f"{what}: a pipeline is a non-empty list of single-key stages ({{$set: ...}}, ...)")
        return update
    if isinstance(update, dict):
        if not update or not all(str(k).startswith("$") for k in update):
            raise base.SpecError(f"{what}: an update document has only operators ($set, $unset, $inc, ...)")
        return update
    raise base.SpecError(f"{what} must be an update document or a pipeline (list of stages)")


def unset_fields(update: Any) -> list[str]:
    """Fields an update removes: $unset (document or pipeline stage) and exclusions in $project/$unset stages."""
    fields: list[str] = []
    if isinstance(update, dict):
        fields += list((update.get("$unset") or {}).keys())
        return fields
    for stage in update:
        (name, body), = stage.items()
        if name == "$unset":
            fields += [body] if isinstance(body, str) else list(body)
        elif name == "$project" and isinstance(body, dict):
            fields += [k for k, v in body.items() if v in (0, False) and k != "_id"]
    return fields


class UpdateMany(base.CollectionOperation):
    kind = "update_many"

    def __init__(self, spec: base.Spec) -> None:
        super().__init__(spec)
        self.filter = spec.mapping("filter", required=False, default={})
        self.update = _check_update(spec.any("update"), "'update'")
        inverse = spec.any("inverse", required=False)
        if inverse is None:
            raise base.SpecError("update_many needs an explicit 'inverse: {filter: ..., update: ...}' (its inverse "
                                 "cannot be computed)")
        inv = base.Spec(inverse, "inverse")
        self.inverse_filter = inv.mapping("filter", required=False, default={})
        self.inverse_update = _check_update(inv.any("update"), "'inverse.update'")
        inv.done()

    def describe(self) -> str:
        return f"db.{self.collection}.updateMany({base.show(self.filter)}, {base.show(self.update)})"

    def destructive(self, env: base.OpEnv) -> list[str]:
        findings = []
        for name in unset_fields(self.update):
            query = {"$and": [self.filter, {name: {"$exists": True}}]} if self.filter else {name: {"$exists": True}}
            count = env.db[self.collection].count_documents(query, limit=1000)
            if count:
                findings.append(f"update_many removes {self.collection}.{name}, which holds data in {count}"
                                f"{'+' if count >= 1000 else ''} documents")
        return findings

    def prepare(self, env: base.OpEnv) -> dict[str, Any]:
        return {"collection": self.collection, "filter": self.inverse_filter, "update": self.inverse_update}

    def execute(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        result = env.db[self.collection].update_many(self.filter, self.update)
        env.queries.append(f"// update_many {self.collection}: {result.modified_count} documents modified")

    def undo(self, env: base.OpEnv, inverse: dict[str, Any]) -> None:
        env.db[inverse["collection"]].update_many(inverse["filter"], inverse["update"])

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        return f"db.{self.collection}.updateMany({base.show(self.inverse_filter)}, {base.show(self.inverse_update)})"

"""The tables, collections and columns a validation rule names, so they can be looked up before a run changes
anything (object_check.py). MongoDB fields are not among them: a collection has no schema to look a field up in,
and finding a document that holds it could read the whole collection."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    POSTGRES,
    Field,
    Target,
    ValidationRule,
)


@dataclass(frozen=True)
class NamedObject:
    """A table or collection (column None), or a column of a table."""

    target: Target
    column: str | None = None

    def describe(self) -> str:
        if self.column is None:
            return self.target.describe()
        return f"column {self.column} of {self.target.describe()}"


def _of_target(target: Target, columns: tuple[str, ...]) -> list[NamedObject]:
    found = [NamedObject(Target(target.database, target.name))]
    if target.database == POSTGRES:
        found += [NamedObject(Target(target.database, target.name), c) for c in (*target.key, *columns)]
    return found


def _of_field(side: Field | None) -> list[NamedObject]:
    return [] if side is None else _of_target(side.target, (side.name,))


def named_objects(rule: ValidationRule) -> list[NamedObject]:
    """What the rule reads, tables before their columns, each once. An sql rule's query names nothing here: it is
    the set's own SQL, read as written."""
    if rule.kind == "sql":
        return []
    found: list[NamedObject] = []
    if rule.kind in ("no_orphans", "matches"):
        found = _of_field(rule.source) + _of_field(rule.reference)
    elif rule.target is not None:
        found = _of_target(rule.target, rule.fields)
    return list(dict.fromkeys(found))

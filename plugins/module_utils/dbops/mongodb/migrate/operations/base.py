"""What every declarative operation of mongodb.yml is: parsed and checked up front, planned without writing,
its inverse computed (reading only) and recorded BEFORE the change, then executed and, on rollback, undone.

execute() and undo() must be safe to run again after a crash part-way (the ledger then says "prepared"):
each operation checks what is already there instead of assuming.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.batches import BatchEnv


class SpecError(Exception):
    """A malformed operation; the parser adds the file, the version and the operation's index."""


class Spec:
    """Typed access to an operation's arguments, refusing unknown keys."""

    def __init__(self, args: Any, kind: str) -> None:
        if not isinstance(args, dict):
            raise SpecError(f"{kind} takes a mapping of arguments, not {type(args).__name__}")
        self.args = args
        self.kind = kind
        self.used: set[str] = set()

    def _get(self, key: str, types: tuple[type, ...], required: bool, default: Any) -> Any:
        self.used.add(key)
        if key not in self.args or self.args[key] is None:
            if required:
                raise SpecError(f"missing required key {key!r}")
            return default
        value = self.args[key]
        if types and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            names = " or ".join(t.__name__ for t in types)
            raise SpecError(f"{key!r} must be a {names}, not {type(value).__name__} ({value!r})")
        return value

    def str(self, key: str, *, required: bool = True, default: str | None = None) -> str:
        value = self._get(key, (str,), required, default)
        if required and not str(value).strip():
            raise SpecError(f"{key!r} must not be empty")
        return value

    # Below the methods named str, bool and list, those names in annotations mean the methods: builtins.* is the type.
    def mapping(self, key: builtins.str, *, required: builtins.bool = True,
                default: dict[builtins.str, Any] | None = None) -> dict[builtins.str, Any]:
        return self._get(key, (dict,), required, default)

    def any(self, key: builtins.str, *, required: builtins.bool = True, default: Any = None) -> Any:
        return self._get(key, (), required, default)

    def bool(self, key: builtins.str, *, default: builtins.bool = False) -> builtins.bool:
        return self._get(key, (bool,), False, default)

    def list(self, key: builtins.str, *, required: builtins.bool = True,
             default: builtins.list[Any] | None = None) -> builtins.list[Any]:
        return self._get(key, (list,), required, default)

    def done(self) -> None:
        unknown = sorted(set(self.args) - self.used)
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(map(repr, unknown))} (expected: "
                            f"{', '.join(sorted(self.used))})")


def field_path(value: str, what: str = "field") -> str:
    """A dotted field path that MongoDB accepts in $set/$unset (no $-prefixed or empty segments)."""
    if not value or any(not seg or seg.startswith("$") for seg in value.split(".")):
        raise SpecError(f"{what} {value!r} is not a valid field path")
    return value


def collection_name(value: str) -> str:
    if not value or "$" in value or value.startswith("system.") or "\0" in value:
        raise SpecError(f"{value!r} is not a valid collection name")
    return value


def show(value: Any) -> str:
    """Compact, stable JSON for plans and messages (dates, ObjectIds as strings)."""
    return json.dumps(value, default=str, separators=(", ", ": "))


@dataclass
class OpEnv:
    """What an operation gets at run time."""

    db: Any
    version: str
    index: int  # position in mongodb.yml (0-based), also the key of its touched records
    batch: Callable[[str], BatchEnv]  # BatchEnv for a direction ("up" | "down")
    transactions: bool
    queries: list[str]
    warnings: list[str] = field(default_factory=list)
    allow_destructive: bool = False

    def collection_exists(self, name: str) -> bool:
        return bool(list(self.db.list_collections(filter={"name": name}, nameOnly=True)))

    def collection_info(self, name: str) -> dict[str, Any] | None:
        found = list(self.db.list_collections(filter={"name": name}))
        return found[0] if found else None


class Operation:
    kind: ClassVar[str] = ""
    irreversible: ClassVar[bool] = False

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @classmethod
    def parse(cls, args: Any) -> Operation:
        spec = Spec(args, cls.kind)
        op = cls(spec)
        spec.done()
        return op

    def describe(self) -> str:
        """The change, as a mongosh-like line for plans and the queries list."""
        raise NotImplementedError

    def destructive(self, env: OpEnv) -> list[str]:
        """What this operation would destroy on the database as it is now (reads only)."""
        return []

    def prepare(self, env: OpEnv) -> dict[str, Any]:
        """The inverse, computed from the database as it is now (reads only); recorded before execute()."""
        raise NotImplementedError

    def execute(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        raise NotImplementedError

    def undo(self, env: OpEnv, inverse: dict[str, Any]) -> None:
        raise NotImplementedError

    def describe_undo(self, inverse: dict[str, Any] | None) -> str:
        raise NotImplementedError


class CollectionOperation(Operation):
    """An operation on the documents, indexes or options of one collection (its `collection` argument)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.collection = collection_name(spec.str("collection"))


def format_error(message: str, *, version: str, path: Any, index: int | None = None,
                 kind: str | None = None) -> MigrationFormatError:
    where = ""
    if index is not None:
        where = f"operation {index + 1}" + (f" ({kind})" if kind else "") + ": "
    return MigrationFormatError(where + message, version=version, path=path)

"""A RuleChecker seen through the part boundary: whatever a database's read raises comes out as the engine's
error (naming the set and the part), so a failed rule read leads to the same compensation as any failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet

Call = Callable[..., Any]  # PartBoundary._call(step, mset, work, *args)


class GuardedChecker:
    def __init__(self, checker: Any, call: Call, mset: MigrationSet | None) -> None:
        self._checker = checker
        self._call = call
        self._mset = mset

    def __getattr__(self, name: str) -> Callable[..., Any]:
        work = getattr(self._checker, name)
        return lambda *args, **kwargs: self._call(f"checking a validation rule ({name})", self._mset, work, *args,
                                                  **kwargs)

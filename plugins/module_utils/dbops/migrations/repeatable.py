"""Repeatable migrations (Flyway's R__name.sql): re-applied whenever their content changes, never a version.

Their ledger key is the file's name without .sql ("R__refresh_views"); it can be told from a version by its
prefix alone, in a set or in a ledger row whose file is gone, because versions are digits. This function is the
one rule every place uses (planning, the current version, drift, rollback).
"""

from __future__ import annotations

from collections.abc import Iterable

REPEATABLE_PREFIX = "R__"


def is_repeatable(version: str) -> bool:
    return version.startswith(REPEATABLE_PREFIX)


def versioned_only(versions: Iterable[str]) -> list[str]:
    """The versions that are real versions (what 'current version' and rollbacks are about)."""
    return [v for v in versions if not is_repeatable(v)]

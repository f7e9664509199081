"""Which discovered set a version from another tool's history names (1 and 001 are the same version)."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import version_key


def spelled_as_on_disk(sets: list[MigrationSet], version: str) -> str:
    """The version as the set on disk spells it, or as the tool spelled it when no set has it."""
    key = version_key(version)
    return next((s.version for s in sets if version_key(s.version) == key), version)

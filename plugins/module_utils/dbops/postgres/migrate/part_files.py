"""Which file a direction of a set's PostgreSQL part comes from, for messages and warnings."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part


def part_path(mset: MigrationSet, direction: str) -> Path:
    """The file of "up", "down" or "verify" (the set's manifest or directory when the part is inline)."""
    part = postgres_part(mset)
    if direction == "down":
        return part.down_path or mset.path
    if direction == "verify":
        return part.verify_path or (mset.manifest.path or mset.path)
    return part.up_path or (mset.manifest.path or mset.path)

"""A part's verification query: it must return no rows."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part


def verification_error(conn: Any, mset: MigrationSet) -> ValidationFailed | None:
    """Runs the query (inside the caller's transaction, if any); the error naming up to three rows, or None."""
    rows = conn.execute(postgres_part(mset).verify_sql).fetchmany(3)
    if not rows:
        return None
    shown = "; ".join(repr(tuple(r)) for r in rows)
    return ValidationFailed(f"verification query returned rows (it must return none): {shown}",
                            version=mset.version, path=part_path(mset, "verify"))

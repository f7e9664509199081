"""The forward SQL of a set's PostgreSQL part as a linter (squawk) needs it, with the engine's transaction rule.

Computed by the engine when it plans, and carried in the plan entry, so that the module never discovers the
sets a second time to rebuild the rule.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, PostgresPart
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import split_statements


def runs_in_one_transaction(part: PostgresPart) -> bool:
    """The engine's rule (see docs/migration-format.md): transaction true, or auto with only transactional SQL."""
    mode = part.options.transaction
    return mode == "true" or (mode == "auto" and all(s.transactional for s in split_statements(part.up_sql)))


def postgres_source(mset: MigrationSet) -> dict[str, Any] | None:
    """{path, sql, transactional} of the set's forward SQL; None when the part has none (backfill only)."""
    part = mset.postgres
    if part is None or not part.up_sql.strip():
        return None
    # A linter reads the file itself, except where it also holds the down section (dbmate): then the SQL.
    whole_file = part.up_path is not None and part.source_format != "dbmate"
    return {"path": str(part.up_path or mset.path), "sql": None if whole_file else part.up_sql,
            "transactional": runs_in_one_transaction(part)}

"""The PostgreSQL part of a set, for the code that runs it: the one place its absence is reported."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, PostgresPart


def postgres_part(mset: MigrationSet) -> PostgresPart:
    """The set's PostgreSQL part. The coordinator only hands the executor sets that have one (has_part), so a set
    without it reaching a runner is a caller's mistake, reported as such rather than as an AttributeError."""
    part = mset.postgres
    if part is None:
        raise MigrationFailed("the set has no PostgreSQL part (no postgres.up.sql): nothing to run on PostgreSQL",
                              version=mset.version, path=mset.path)
    return part

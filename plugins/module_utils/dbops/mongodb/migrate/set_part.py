"""The one way to a migration set's MongoDB part (MigrationSet.mongodb is optional: a set may have no such part)."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet, MongoPart


def mongo_part(mset: MigrationSet) -> MongoPart:
    """The set's MongoDB part. The engine calls the MongoDB executor only for sets that have one (has_part), so a
    missing part is an internal error, told here once rather than as an AttributeError wherever it is read."""
    if mset.mongodb is None:
        raise DbopsError("internal error: the MongoDB executor was given a set without a MongoDB part",
                         version=mset.version, path=mset.path)
    return mset.mongodb

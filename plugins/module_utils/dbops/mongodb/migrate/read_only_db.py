"""A read-only view of a pymongo Database: reads pass through, anything else is refused. validate(db, ctx) of a
mongodb.py gets one, so a validation cannot change what it checks."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed

_COLLECTION_READS = {"find", "find_one", "count_documents", "estimated_document_count", "distinct", "list_indexes",
                     "index_information", "options", "name", "full_name", "database", "find_raw_batches",
                     "codec_options", "read_preference", "read_concern", "write_concern"}
_DATABASE_READS = {"list_collection_names", "list_collections", "name", "client", "codec_options",
                   "get_collection", "read_preference", "read_concern", "write_concern"}


def _refuse(what: str) -> MigrationFailed:
    return MigrationFailed(f"read-only database: {what} would write (validate(db, ctx) may only read)")


class ReadOnlyCollection:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def aggregate(self, pipeline: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if any(("$out" in stage or "$merge" in stage) for stage in pipeline if isinstance(stage, dict)):
            raise _refuse(f"db.{self._collection.name}.aggregate with $out/$merge")
        return self._collection.aggregate(pipeline, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in _COLLECTION_READS:
            return getattr(self._collection, name)
        if name.startswith("_"):
            raise AttributeError(name)
        raise _refuse(f"db.{self._collection.name}.{name}")

    def __getitem__(self, name: str) -> ReadOnlyCollection:
        return ReadOnlyCollection(self._collection[name])


class ReadOnlyDatabase:
    def __init__(self, db: Any) -> None:
        self._db = db

    def __getitem__(self, name: str) -> ReadOnlyCollection:
        return ReadOnlyCollection(self._db[name])

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> ReadOnlyCollection:
        return ReadOnlyCollection(self._db.get_collection(name, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        if name in _DATABASE_READS:
            return getattr(self._db, name)
        if name.startswith("_"):
            raise AttributeError(name)
        # db.users: attribute access is how most code reaches a collection.
        if name in ("command", "create_collection", "drop_collection", "rename_collection", "aggregate",
                    "dereference", "validate_collection", "cursor_command", "watch", "with_options"):
            raise _refuse(f"db.{name}")
        return ReadOnlyCollection(self._db[name])

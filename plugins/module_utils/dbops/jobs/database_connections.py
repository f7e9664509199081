"""Which databases a job works on: a PostgreSQL DSN and/or a MongoDB URI with the database it names.

Backups, recovery points, restores and the drill's write load all take the same three settings; they are one
record so that each job reads them the same way, and so that the "is it really there" narrowing lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError


@dataclass(frozen=True)
class DatabaseConnections:
    postgres_dsn: str | None = None
    mongodb_uri: str | None = None
    mongodb_database: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DatabaseConnections:
        """From a mapping that names them like the fields (a module's parameters); missing ones are None."""
        return cls(**{item.name: options.get(item.name) for item in fields(cls)})

    def require_postgres(self) -> str:
        """The DSN, for code that runs only once a job decided to work on PostgreSQL."""
        if not self.postgres_dsn:
            raise DbopsError("postgres_dsn is required for the PostgreSQL part")
        return self.postgres_dsn

    def require_mongodb(self) -> tuple[str, str]:
        """(uri, database), for code that runs only once a job decided to work on MongoDB."""
        if not self.mongodb_uri:
            raise DbopsError("mongodb_uri is required for the MongoDB part")
        if not self.mongodb_database:
            raise DbopsError("mongodb_database is required with mongodb_uri")
        return self.mongodb_uri, self.mongodb_database

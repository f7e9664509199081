"""The two sides of a cutover as connections: PostgreSQL (autocommit) and MongoDB clients of blue and green.

The switch needs every side it was given (open_sides(..., require=True) raises at the first that cannot be
reached, before anything changes); the state's status reads what it can and names what it could not reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SIDES
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connect as mongo_connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect


@dataclass(frozen=True)
class SideEndpoints:
    """Where blue and green are: superuser DSNs and admin URIs (the fence never applies to them)."""

    blue_postgres_dsn: str | None = None
    green_postgres_dsn: str | None = None
    blue_mongodb_uri: str | None = None
    green_mongodb_uri: str | None = None
    mongodb_database: str | None = None

    @property
    def postgres(self) -> bool:
        return bool(self.blue_postgres_dsn or self.green_postgres_dsn)

    @property
    def mongodb(self) -> bool:
        return bool(self.blue_mongodb_uri or self.green_mongodb_uri)

    def postgres_dsn(self, side: str) -> str | None:
        return self.blue_postgres_dsn if side == "blue" else self.green_postgres_dsn

    def mongodb_uri(self, side: str) -> str | None:
        return self.blue_mongodb_uri if side == "blue" else self.green_mongodb_uri

    def validate(self) -> None:
        if not self.postgres and not self.mongodb:
            raise DbopsError("a cutover needs blue_postgres_dsn and green_postgres_dsn, and/or blue_mongodb_uri and "
                             "green_mongodb_uri")
        if self.postgres and not (self.blue_postgres_dsn and self.green_postgres_dsn):
            raise DbopsError("blue_postgres_dsn and green_postgres_dsn go together")
        if self.mongodb and not (self.blue_mongodb_uri and self.green_mongodb_uri):
            raise DbopsError("blue_mongodb_uri and green_mongodb_uri go together")
        if self.mongodb and not self.mongodb_database:
            raise DbopsError("mongodb_database is required with the MongoDB URIs")


@dataclass
class OpenSides:
    endpoints: SideEndpoints
    pg: dict[str, Any] = field(default_factory=dict)  # side -> autocommit psycopg connection
    mongo: dict[str, Any] = field(default_factory=dict)  # side -> MongoClient
    unreachable: dict[str, str] = field(default_factory=dict)  # "postgres:blue" -> why

    @property
    def database(self) -> str:
        return self.endpoints.mongodb_database or ""

    def pg_conn(self, side: str) -> Any:
        if side not in self.pg:
            raise DbopsError(f"PostgreSQL on {side} is not connected: {self.unreachable.get(f'postgres:{side}')}")
        return self.pg[side]

    def mongo_client(self, side: str) -> Any:
        if side not in self.mongo:
            raise DbopsError(f"MongoDB on {side} is not connected: {self.unreachable.get(f'mongodb:{side}')}")
        return self.mongo[side]


@contextmanager
def open_sides(endpoints: SideEndpoints, *, require: bool) -> Iterator[OpenSides]:
    endpoints.validate()
    opened = OpenSides(endpoints=endpoints)
    with ExitStack() as stack:
        for side in SIDES:
            dsn = endpoints.postgres_dsn(side)
            if dsn:
                try:
                    opened.pg[side] = stack.enter_context(connect(dsn, autocommit=True))
                except DbopsError as exc:
                    if require:
                        raise
                    opened.unreachable[f"postgres:{side}"] = str(exc)
            uri = endpoints.mongodb_uri(side)
            if uri:
                try:
                    client = mongo_connect(uri)
                except DbopsError as exc:
                    if require:
                        raise
                    opened.unreachable[f"mongodb:{side}"] = str(exc)
                else:
                    stack.callback(client.close)
                    opened.mongo[side] = client
        yield opened

"""Ways to make a database refuse the application's writes: the collection's read_only engine, and what an
operator gets from the existing Ansible modules (the peers)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymongo

from bench.read_only.application import APP_PASSWORD, MONGO_DB


@dataclass
class Contender:
    name: str
    database: str  # "postgres" | "mongodb"

    def engage(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError


class DbopsReadOnly(Contender):
    """sevenp.dbops' read_only engine, hard mode, with its verification (the call returns engaged and verified)."""

    def __init__(self, database: str, *, postgres_dsn: str | None = None, mongodb_uri: str | None = None,
                 state_file: Path) -> None:
        super().__init__(name="sevenp.dbops read_only (hard, verified)", database=database)
        self.postgres_dsn, self.mongodb_uri, self.state_file = postgres_dsn, mongodb_uri, state_file

    def _run(self, state: str) -> Any:
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
            DatabaseConnections,
        )
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only import (
            ReadOnlyRequest,
            run_read_only,
        )
        databases = DatabaseConnections(postgres_dsn=self.postgres_dsn, mongodb_uri=self.mongodb_uri,
                                        mongodb_database=MONGO_DB if self.mongodb_uri else None)
        result = run_read_only(ReadOnlyRequest(databases=databases, state=state, state_file=str(self.state_file)))
        failed = [probe for probe in result.probes if not probe.get("ok")]
        if failed:
            raise RuntimeError(f"read_only {state}: probes failed: {failed}")
        return result

    def engage(self) -> None:
        self._run("enabled")

    def undo(self) -> None:
        self._run("disabled")


class PostgresSetting(Contender):
    """What community.postgresql.postgresql_set does: ALTER SYSTEM SET default_transaction_read_only = on and a
    reload; "verified" once a new session shows the setting on."""

    def __init__(self, admin_dsn: str) -> None:
        super().__init__(name="postgresql_set default_transaction_read_only", database="postgres")
        self.admin_dsn = admin_dsn

    def _set(self, statement: str, expected: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute(statement)
            conn.execute("SELECT pg_reload_conf()")
        while True:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                if conn.execute("SHOW default_transaction_read_only").fetchone()[0] == expected:
                    return
            time.sleep(0.005)

    def engage(self) -> None:
        self._set("ALTER SYSTEM SET default_transaction_read_only = on", "on")

    def undo(self) -> None:
        self._set("ALTER SYSTEM RESET default_transaction_read_only", "off")


class MongoUserRoles(Contender):
    """What community.mongodb.mongodb_user does when the application user's roles are set to read:
    updateUser; "verified" once a new client of that user is refused a write."""

    def __init__(self, admin_uri: str, app_uri: str) -> None:
        super().__init__(name="mongodb_user roles: read", database="mongodb")
        self.admin_uri, self.app_uri = admin_uri, app_uri

    def _roles(self, roles: list[str]) -> None:
        with pymongo.MongoClient(self.admin_uri) as client:
            client[MONGO_DB].command("updateUser", "app", roles=roles)

    def engage(self) -> None:
        self._roles(["read"])
        while True:
            with pymongo.MongoClient(self.app_uri, retryWrites=False) as probe:
                try:
                    inserted = probe[MONGO_DB].orders.insert_one({"way": "peer probe"})
                except pymongo.errors.OperationFailure:
                    return
            with pymongo.MongoClient(self.admin_uri) as client:
                client[MONGO_DB].orders.delete_one({"_id": inserted.inserted_id})
            time.sleep(0.005)

    def undo(self) -> None:
        self._roles(["readWrite"])


def app_uri(host: str) -> str:
    return f"mongodb://app:{APP_PASSWORD}@{host}/?authSource={MONGO_DB}&directConnection=true"

"""What backup work needs around a connection: libpq settings for the client binaries, one-row queries, and the
server's facts. It never connects itself: connections come from postgres/connection.py's connect().

The client binaries (pg_basebackup, pg_dump) get the connection string without its password, and the password in
PGPASSWORD, so it never appears in a process listing or in the commands we report.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    conninfo_to_dict,
    make_conninfo,
    psycopg,
    require_psycopg,
)


@dataclass(frozen=True)
class ClientConnection:
    """A DSN split into what goes on a command line and what goes into the environment."""

    conninfo: str  # without password
    password: str | None

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password} if self.password else {}

    def with_database(self, dbname: str) -> ClientConnection:
        require_psycopg()
        params = conninfo_to_dict(self.conninfo)
        params["dbname"] = dbname
        return ClientConnection(make_conninfo("", **params), self.password)

    def database(self) -> str | None:
        require_psycopg()
        return _text(conninfo_to_dict(self.conninfo).get("dbname"))


def client_connection(dsn: str) -> ClientConnection:
    require_psycopg()
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConnectionFailed(f"invalid postgres_dsn: {exc}") from exc
    password = params.pop("password", None)
    return ClientConnection(make_conninfo("", **params), _text(password))


def _text(value: str | int | None) -> str | None:
    """A conninfo setting as text: psycopg types the values str | int | None, a parsed string only yields str."""
    return None if value is None else str(value)


def query_one(conn, sql: str, params: tuple = ()) -> tuple:
    try:
        row = conn.execute(sql, params).fetchone()
    except psycopg.Error as exc:
        raise DbopsError(f"query failed on PostgreSQL ({sql.split()[0]} ...): {exc}") from exc
    return row


@dataclass(frozen=True)
class ServerFacts:
    system_identifier: str
    server_version_num: int
    timeline: int
    wal_segment_size: int
    data_directory: str
    archive_mode: str
    archive_command: str
    restore_command: str
    wal_level: str
    in_recovery: bool


def server_facts(conn) -> ServerFacts:
    row = query_one(conn, """
        select (select system_identifier::text from pg_control_system()),
               current_setting('server_version_num')::int,
               (select timeline_id from pg_control_checkpoint()),
               pg_size_bytes(current_setting('wal_segment_size')),
               current_setting('data_directory'),
               current_setting('archive_mode'),
               current_setting('archive_command'),
               current_setting('restore_command'),
               current_setting('wal_level'),
               pg_is_in_recovery()
    """)
    facts = ServerFacts(*row)
    if not facts.in_recovery:
        # The checkpoint's timeline lags right after a promotion; the current WAL file name does not.
        walfile = query_one(conn, "select pg_walfile_name(pg_current_wal_lsn())")[0]
        facts = ServerFacts(**{**facts.__dict__, "timeline": int(walfile[:8], 16)})
    return facts

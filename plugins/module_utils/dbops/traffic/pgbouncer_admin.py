"""PgBouncer's admin console (the database ``pgbouncer``), every command bounded by a hard timeout.

The console speaks only the simple query protocol, so the connection uses client-side binding (ClientCursor) and
autocommit. A command can block for good: PAUSE waits for every running transaction to end (with session pooling,
for every client to disconnect). So each command runs on a worker thread; when it has not answered in time, the
connection's socket is shut down (the blocked read returns at once, the worker ends), the connection is closed, and
CommandTimedOut is raised. Nothing else touches the connection while the worker runs, so libpq is never used from
two threads at once.

What is safe after a timed-out PAUSE (see pause_or_resume in jobs/pgbouncer_switch): PgBouncer keeps a database
paused (or pausing) when the admin client that asked for it goes away, so a RESUME is needed; but a RESUME sent
while the PAUSE's own connection still waits for its reply has hung PgBouncer. Hence the order: the PAUSE's
connection is closed first, then RESUME is sent on a fresh connection, itself bounded by the timeout.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    connect,
    describe_server,
    psycopg,
    sql,
)


class CommandTimedOut(DbopsError):
    """An admin command got no answer within the timeout; its connection has been closed."""


class AdminCommandFailed(DbopsError):
    """PgBouncer answered an admin command with an error."""


@dataclass
class _Reply:
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None


class AdminConsole:
    """One admin console connection; use as a context manager. queries collects every command sent."""

    def __init__(self, dsn: str, *, timeout: float, queries: list[str]) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.queries = queries
        self.conn: Any = None

    def __enter__(self) -> AdminConsole:
        self.conn = connect(self.dsn, autocommit=True, connect_timeout=self.timeout)
        self.conn.cursor_factory = psycopg.ClientCursor
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def command_text(self, verb: str, database: str | None = None) -> str:
        """"PAUSE "shop"": the database name quoted as an identifier, which the console accepts."""
        if database is None:
            return verb
        return sql.SQL(verb + " {}").format(sql.Identifier(database)).as_string(self.conn)

    def run(self, command: str) -> list[dict[str, Any]]:
        """The command's rows (column name -> value; none for PAUSE, RESUME, RELOAD), within the timeout."""
        if self.conn is None:
            raise ConnectionFailed("the PgBouncer admin connection is closed")
        self.queries.append(command)
        reply = _Reply()
        worker = threading.Thread(target=self._execute, args=(command, reply), daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            self._sever()
            worker.join(self.timeout)
            if worker.is_alive():
                # Still inside libpq on the worker (its socket is shut down): left to it, never touched from here.
                self.conn = None
            else:
                self.close()
            raise CommandTimedOut(f"PgBouncer at {describe_server(self.dsn)} did not answer {command!r} within "
                                  f"{self.timeout:g}s; its connection was closed")
        if reply.error is not None:
            text = str(reply.error).strip()
            if psycopg is not None and isinstance(reply.error, psycopg.OperationalError) and \
                    self.conn.closed:
                raise ConnectionFailed(f"PgBouncer at {describe_server(self.dsn)} closed the connection during "
                                       f"{command!r}: {text}")
            raise AdminCommandFailed(f"PgBouncer refused {command!r}: {text}")
        return reply.rows

    def _execute(self, command: str, reply: _Reply) -> None:
        try:
            cursor = self.conn.execute(command)
            if cursor.description is not None:
                names = [column.name for column in cursor.description]
                reply.rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting thread, which raises the engine's error
            reply.error = exc

    def _sever(self) -> None:
        """Shut the socket down under the blocked worker: its read returns, libpq reports the connection lost."""
        try:
            duplicate = socket.socket(fileno=os.dup(self.conn.pgconn.socket))
        except (OSError, ValueError):
            return
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            duplicate.close()  # closes the duplicate only; shutdown acted on the socket itself

"""The admin console's hard timeout, against an in-process fake server that completes the startup and then never
answers a query (what PgBouncer does with a PAUSE while a transaction runs); and the switch job's plans and
idempotency with an in-process fake console."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs import pgbouncer_switch
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.pgbouncer_switch import (
    PauseTimedOut,
    PgbouncerSwitchRequest,
    switch_pgbouncer,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_admin import (
    AdminConsole,
    CommandTimedOut,
)


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


class SilentServer:
    """Speaks the startup of the PostgreSQL protocol, then reads queries and never answers them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed_by_client = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection = self.listener.accept()[0]
        with connection:
            while True:
                length = struct.unpack("!I", connection.recv(4))[0]
                code = struct.unpack("!I", connection.recv(4))[0]
                connection.recv(length - 8)
                if code == 80877103:  # SSLRequest: no TLS here
                    connection.sendall(b"N")
                    continue
                break
            connection.sendall(_message(b"R", struct.pack("!I", 0))
                               + _message(b"S", b"client_encoding\0UTF8\0")
                               + _message(b"S", b"server_version\0" + b"1.18.0/bouncer\0")
                               + _message(b"Z", b"I"))
            while connection.recv(65536):
                pass  # the query is read and never answered
            self.closed_by_client.set()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.listener.close()


def test_a_command_without_an_answer_times_out_and_its_connection_is_closed(silent_server: SilentServer) -> None:
    queries: list[str] = []
    console = AdminConsole(f"host=127.0.0.1 port={silent_server.port} user=admin dbname=pgbouncer sslmode=disable",
                           timeout=0.5, queries=queries)
    with console:
        started = time.monotonic()
        with pytest.raises(CommandTimedOut, match="did not answer 'PAUSE \"app\"' within 0.5s"):
            console.run(console.command_text("PAUSE", "app"))
        assert time.monotonic() - started < 2
        assert console.conn is None  # closed, so a RESUME can only go out on a fresh connection
    assert silent_server.closed_by_client.wait(2)
    assert queries == ['PAUSE "app"']


class FakeConsole:
    """Stands in for AdminConsole: a paused flag, a PAUSE that can hang, every command recorded."""

    paused = False
    pause_hangs = False
    log: list[str] = []

    def __init__(self, dsn: str, *, timeout: float, queries: list[str]) -> None:
        self.queries = queries

    def __enter__(self) -> FakeConsole:
        FakeConsole.log.append("connect")
        return self

    def __exit__(self, *exc_info: object) -> None:
        FakeConsole.log.append("close")

    def command_text(self, verb: str, database: str | None = None) -> str:
        return f'{verb} "{database}"'

    def run(self, command: str) -> list[dict[str, Any]]:
        self.queries.append(command)
        FakeConsole.log.append(command)
        if command.startswith("PAUSE") and FakeConsole.pause_hangs:
            FakeConsole.log.append("closed by timeout")
            raise CommandTimedOut("no answer")
        if command.startswith(("PAUSE", "RESUME")):
            FakeConsole.paused = command.startswith("PAUSE")
        return [{"name": "app", "host": "blue", "port": 5432, "database": "app", "paused": int(FakeConsole.paused),
                 "disabled": 0, "current_connections": 1}] if command == "SHOW DATABASES" else []


@pytest.fixture
def fake_console(monkeypatch: pytest.MonkeyPatch) -> type[FakeConsole]:
    monkeypatch.setattr(pgbouncer_switch, "AdminConsole", FakeConsole)
    FakeConsole.paused, FakeConsole.pause_hangs, FakeConsole.log = False, False, []
    return FakeConsole


def _request(action: str, **options: Any) -> PgbouncerSwitchRequest:
    return PgbouncerSwitchRequest(admin_dsn="postgresql://admin@pgbouncer/pgbouncer", action=action,
                                  database="app", **options)


def test_check_mode_plans_the_pause_and_sends_it_not(fake_console: type[FakeConsole]) -> None:
    planned = switch_pgbouncer(_request("pause", check_mode=True))
    assert planned.changed and planned.queries == ["SHOW DATABASES", 'PAUSE "app"']
    assert 'PAUSE "app"' not in fake_console.log and not fake_console.paused


def test_pause_and_resume_change_only_what_is_not_already_so(fake_console: type[FakeConsole]) -> None:
    assert not switch_pgbouncer(_request("resume")).changed
    assert switch_pgbouncer(_request("pause")).changed and fake_console.paused
    assert not switch_pgbouncer(_request("pause")).changed


def test_a_timed_out_pause_is_resumed_on_a_fresh_connection_after_the_first_is_closed(
        fake_console: type[FakeConsole]) -> None:
    fake_console.pause_hangs = True
    with pytest.raises(PauseTimedOut, match="the database was resumed"):
        switch_pgbouncer(_request("pause", timeout=1))
    log = fake_console.log
    assert log.index("closed by timeout") < log.index('RESUME "app"')
    assert log[log.index("closed by timeout") + 1:log.index('RESUME "app"')] == ["connect"]

"""make demo's ports: the environment's, its own earlier ones, the defaults, else free ones; never a foreign server."""

from __future__ import annotations

import socket

import pytest

from tests.support import demo


@pytest.fixture
def foreign_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_another_program_holds_is_never_used(foreign_server, monkeypatch, capsys):
    monkeypatch.delenv("DBOPS_DEMO_MONGO_PORT", raising=False)
    port = demo.choose_port("mongo_port", remembered=None, default=foreign_server, ours_running=False)
    assert port != foreign_server
    assert f"{foreign_server} is taken by another program" in capsys.readouterr().out
    # An earlier port that a foreign program holds now is not reused either.
    assert demo.choose_port("mongo_port", remembered=foreign_server, default=foreign_server,
                            ours_running=False) != foreign_server


def test_the_demos_own_running_server_keeps_its_port(foreign_server, monkeypatch):
    monkeypatch.delenv("DBOPS_DEMO_PG_PORT", raising=False)
    assert demo.choose_port("pg_port", remembered=foreign_server, default=1, ours_running=True) == foreign_server


def test_a_port_from_the_environment_is_used_or_refused(foreign_server, monkeypatch):
    monkeypatch.setenv("DBOPS_DEMO_PG_PORT", str(foreign_server))
    with pytest.raises(SystemExit, match=f"DBOPS_DEMO_PG_PORT={foreign_server}: .* taken by another program"):
        demo.choose_port("pg_port", remembered=None, default=55432, ours_running=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    monkeypatch.setenv("DBOPS_DEMO_PG_PORT", str(free))
    assert demo.choose_port("pg_port", remembered=None, default=55432, ours_running=False) == free

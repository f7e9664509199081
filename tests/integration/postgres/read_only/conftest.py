"""Fixtures of the PostgreSQL read-only tests: an application with grants of every kind, on the session's cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.postgres.read_only.fence_setup import FencedApp


@pytest.fixture
def fenced_app(pg_cluster, pg_db_name: str) -> Iterator[FencedApp]:
    app = FencedApp(pg_cluster, pg_db_name).create()
    try:
        yield app
    finally:
        app.drop()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "read_only.json"

"""Fixtures shared by integration tests of several areas (the read-only mode is tested per database, through the
job of both and through the playbook)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.postgres.read_only.fence_setup import FencedApp
from tests.support.mongo_server import AuthenticatedMongo, authenticated_server
from tests.support.read_only_shop import provision


@pytest.fixture
def fenced_app(pg_cluster, pg_db_name: str) -> Iterator[FencedApp]:
    """An application on the session's cluster with grants of every kind, dropped afterwards."""
    app = FencedApp(pg_cluster, pg_db_name).create()
    try:
        yield app
    finally:
        app.drop()


@pytest.fixture
def shop_mongo() -> Iterator[AuthenticatedMongo]:
    """An authenticated SecantusDB with the `shop` application users of tests/support/read_only_shop.py."""
    with authenticated_server(provision) as server:
        yield server

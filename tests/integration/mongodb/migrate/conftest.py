"""Fixtures of the MongoDB migration tests: a fresh database on the session's SecantusDB, a migrations dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest


@pytest.fixture(scope="session")
def mongo_client(mongo_server: str) -> Iterator[pymongo.MongoClient]:
    client = pymongo.MongoClient(mongo_server)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mdb(mongo_client: pymongo.MongoClient, mongo_db_name: str) -> Iterator[pymongo.database.Database]:
    db = mongo_client[mongo_db_name]
    try:
        yield db
    finally:
        mongo_client.drop_database(mongo_db_name)


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    root = tmp_path / "migrations"
    root.mkdir()
    return root

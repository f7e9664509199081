"""Fixtures of the PostgreSQL migration tests (their helpers are in tests/support/pg_migrations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    root = tmp_path / "migrations"
    root.mkdir()
    return root

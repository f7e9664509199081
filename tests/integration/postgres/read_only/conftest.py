"""Fixtures of the PostgreSQL read-only tests (fenced_app, the application, is in tests/integration/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "read_only.json"

"""Fixtures of the online change tests: a migrations tree, and the shop schema the changes work on."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    root = tmp_path / "migrations"
    root.mkdir()
    return root

"""Migration set directories for tests: copies of the repository's samples, and small sets written on the fly."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def postgres_sample_sets(dest: Path) -> Path:
    """A copy of the repository's sample sets that have no MongoDB part (those need a MongoDB server)."""
    dest.mkdir(parents=True, exist_ok=True)
    for directory in sorted((ROOT / "migrations").iterdir()):
        if not directory.is_dir():
            continue
        if any((directory / name).exists() for name in ("mongodb.yml", "mongodb.yaml", "mongodb.py")):
            continue
        shutil.copytree(directory, dest / directory.name)
    return dest


def add_set(migrations: Path, name: str, up: str, down: str | None = None, manifest: str | None = None) -> Path:
    """A native set <migrations>/<name> with a PostgreSQL part (and a migration.yml when given)."""
    directory = migrations / name
    directory.mkdir()
    (directory / "postgres.up.sql").write_text(up)
    if down is not None:
        (directory / "postgres.down.sql").write_text(down)
    if manifest is not None:
        (directory / "migration.yml").write_text(manifest)
    return directory

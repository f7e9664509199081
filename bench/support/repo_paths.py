"""Where the repository, its venv and the collection link are, and how the benchmarks import the engine.

The engine is imported exactly as Ansible imports it (``ansible_collections.sevenp.dbops...``), which needs the
``build/`` directory holding the ``ansible_collections/sevenp/dbops`` link on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
COLLECTION_LINK = BUILD / "ansible_collections" / "sevenp" / "dbops"
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PYTHON = VENV_BIN / "python"
# Tools the benchmarks install for themselves (npm packages); git-ignored.
TOOLS_DIR = ROOT / "bench" / ".tools"
RESULTS_DIR = ROOT / "bench" / "results"
PG_BIN_DIR = Path(os.environ.get("DBOPS_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))


def use_collection_imports() -> None:
    """Make ``import ansible_collections.sevenp.dbops...`` and ``import tests.support...`` work."""
    if not COLLECTION_LINK.exists():
        COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
        COLLECTION_LINK.symlink_to(Path("../../.."))
    for path in (str(ROOT), str(BUILD)):
        if path not in sys.path:
            sys.path.insert(0, path)

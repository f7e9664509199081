"""Where the PostgreSQL programs (pg_ctl, pg_basebackup, pg_dump, pg_waldump, pg_verifybackup) live.

The one place that knows the default directory: every request record defaults to DEFAULT_BIN_DIR and every program
is found through PgBinaries.path, so a wrong pg_bin_dir fails with the same clear message wherever it is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

DEFAULT_BIN_DIR = "/usr/lib/postgresql/15/bin"


class PgBinaryMissing(DbopsError):
    """A PostgreSQL program is not where pg_bin_dir says."""


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: str = DEFAULT_BIN_DIR

    def path(self, name: str) -> str:
        """The full path of program name; PgBinaryMissing when it is absent or not executable."""
        candidate = Path(self.bin_dir or DEFAULT_BIN_DIR) / name
        if not candidate.is_file():
            raise PgBinaryMissing(f"{name} not found in {candidate.parent}: set pg_bin_dir to PostgreSQL's bin "
                                  "directory (the one holding pg_ctl)")
        if not os.access(candidate, os.X_OK):
            raise PgBinaryMissing(f"{candidate} is not executable: set pg_bin_dir to PostgreSQL's bin directory")
        return str(candidate)

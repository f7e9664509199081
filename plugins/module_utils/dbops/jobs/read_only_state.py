"""The read-only mode's state file: what was changed, per database, written before the change is made.

{"postgres"|"mongodb": {"phase": planned|engaged, "previous": {...}}}, rewritten atomically (temporary file, fsync,
rename, fsync of the directory), mode 0600. It is the one place both databases' undo comes from, so it lives
outside any temporary directory: by default under /var/lib/sevenp-dbops/read_only/, named after the servers and
databases (never the credentials).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import hosts_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import describe_server

DEFAULT_STATE_DIR = "/var/lib/sevenp-dbops/read_only"
PLANNED = "planned"
ENGAGED = "engaged"


class StateFile:
    """{"postgres"|"mongodb": {"phase": planned|engaged, "mode": ..., "previous": {...}}}, rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                self.entries = json.loads(path.read_text()).get("databases", {})
            except (OSError, ValueError) as exc:
                raise DbopsError(f"the read-only state file {path} cannot be read: {exc}") from exc

    def record(self, database: str, phase: str, previous: dict[str, Any]) -> None:
        self.entries[database] = {"phase": phase, "previous": previous}
        self._write()

    def forget(self, database: str) -> None:
        self.entries.pop(database, None)
        if self.entries:
            self._write()
        elif self.path.exists():
            self.path.unlink()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".read_only.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w") as out:  # mkstemp creates it 0600
                json.dump({"version": 1, "databases": self.entries}, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def default_state_file(databases: DatabaseConnections) -> Path:
    """Named after where the databases are (host, port, database), so two targets never share a file."""
    where = [describe_server(databases.postgres_dsn) if databases.postgres_dsn else "",
             f"{hosts_of(databases.mongodb_uri)}/{databases.mongodb_database}" if databases.mongodb_uri else ""]
    digest = hashlib.sha256("|".join(where).encode()).hexdigest()[:20]
    return Path(DEFAULT_STATE_DIR) / f"{digest}.json"

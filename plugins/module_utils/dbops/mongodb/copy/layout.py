"""Where one copy lives on the host that runs it: one directory per direction under the cutover directory.

    <cutover_dir>/mongodb-copy/<direction>/bin/dbops-mongodb-copy    the copy process (mongodb/copy/process.py)
    <cutover_dir>/mongodb-copy/<direction>/bin/dbops-supervise       its pid-file supervisor
    <cutover_dir>/mongodb-copy/<direction>/lib/...                   the engine files it runs
    <cutover_dir>/mongodb-copy/<direction>/conf/copy.json            URIs and settings, 0600 (holds passwords)
    <cutover_dir>/mongodb-copy/<direction>/run/copy.pid              the supervisor's pid file (its lock)
    <cutover_dir>/mongodb-copy/<direction>/log/copy.log              the process's JSON lines

The URIs go in the 0600 file, never on a command line, so no process listing shows a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyError

DIRECTIONS = ("blue_to_green", "green_to_blue")
COPY_SCRIPT = "dbops-mongodb-copy"
CONFIG_RELATIVE = "conf/copy.json"
# Databases a copy never follows: the server's own, and the collection's own bookkeeping.
RESERVED_DATABASES = ("admin", "local", "config", "dbops")


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise CopyError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    return direction


def check_database(database: str) -> str:
    if not database or "." in database or database in RESERVED_DATABASES:
        raise CopyError(f"database {database!r} cannot be copied: name an application database (not "
                        f"{', '.join(RESERVED_DATABASES)}, no dots)")
    return database


@dataclass(frozen=True)
class CopyLayout:
    cutover_dir: str
    direction: str

    def __post_init__(self) -> None:
        check_direction(self.direction)
        if not Path(self.cutover_dir).is_absolute():
            raise CopyError(f"cutover_dir {self.cutover_dir!r} must be an absolute path")

    @property
    def directory(self) -> str:
        return str(Path(self.cutover_dir) / "mongodb-copy" / self.direction)

    @property
    def config_file(self) -> str:
        return str(Path(self.directory) / CONFIG_RELATIVE)

    @property
    def pid_file(self) -> str:
        return str(Path(self.directory) / "run" / "copy.pid")

    @property
    def log_file(self) -> str:
        return str(Path(self.directory) / "log" / "copy.log")

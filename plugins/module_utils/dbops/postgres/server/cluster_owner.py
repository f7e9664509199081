"""Running server-side commands as the OS user that owns a PostgreSQL cluster.

PostgreSQL refuses to run as root, and files in a data directory must belong to the cluster's OS user. When our
code runs as root (Ansible's usual become), server-side commands (pg_ctl, pg_verifybackup on a data directory, ...)
go through ``runuser -u <user> --`` and whatever we lay down is chowned to that user. When we already run as that
user (or no user is named), commands run directly.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

# The engine runs PostgreSQL's and the compressors' programs itself (it has no AnsibleModule and its
# run_command), so ansible-test's advice to use run_command does not apply here.
# pylint: disable=ansible-bad-function


@dataclass(frozen=True)
class ClusterOwner:
    os_user: str | None = None

    @property
    def switches_user(self) -> bool:
        if not self.os_user or os.geteuid() != 0:
            return False
        return pwd.getpwuid(os.geteuid()).pw_name != self.os_user

    def ids(self) -> tuple[int, int] | None:
        if not self.os_user:
            return None
        try:
            entry = pwd.getpwnam(self.os_user)
        except KeyError as exc:
            raise DbopsError(f"the cluster's OS user {self.os_user!r} does not exist on this host") from exc
        return entry.pw_uid, entry.pw_gid

    def command(self, argv: list[str]) -> list[str]:
        if self.switches_user:
            return ["runuser", "-u", str(self.os_user), "--", *argv]
        return list(argv)

    def run(self, argv: list[str], *, check: bool = True, timeout: float | None = None,
            env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
            what: str | None = None) -> subprocess.CompletedProcess:
        """Run argv as the owner; on failure raise DbopsError with the command's last stderr lines."""
        full_env = None
        if env:
            full_env = {**os.environ, **env}
        try:
            result = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout,
                                    env=full_env, cwd=cwd, check=False)
        except FileNotFoundError as exc:
            raise DbopsError(f"{argv[0]} not found: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise DbopsError(f"{what or Path(argv[0]).name} did not finish within {timeout}s") from exc
        if check and result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-8:])
            raise DbopsError(f"{what or Path(argv[0]).name} failed (exit {result.returncode}): {tail}")
        return result

    def chown_tree(self, path: str | os.PathLike[str]) -> None:
        """Give path (and everything under it) to the owner, when we are root."""
        ids = self.ids() if os.geteuid() == 0 else None
        if not ids:
            return
        root = Path(path)
        os.chown(root, *ids, follow_symlinks=False)
        if root.is_dir() and not root.is_symlink():
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    os.chown(os.path.join(dirpath, name), *ids, follow_symlinks=False)

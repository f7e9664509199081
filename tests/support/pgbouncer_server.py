"""A throwaway PgBouncer in front of the test clusters: its own temp dir, ini file, free port, started as the
clusters' OS user (PgBouncer refuses to run as root) and stopped by its pid file.

Clients log in with trust (the user must still be listed in the auth file); the password PostgreSQL wants is in
each [databases] entry. The admin console is the database ``pgbouncer`` on the same port, for user postgres.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .pg_cluster import SUPERUSER, SUPERUSER_PASSWORD, as_pg_user, chown_to_pg_user
from .ports import free_port, wait_for_port

PGBOUNCER = os.environ.get("DBOPS_PGBOUNCER", "pgbouncer")


def database_entry(host: str, port: int, dbname: str) -> str:
    """A [databases] connection string to one cluster's database, logging in as the test superuser."""
    return f"host={host} port={port} dbname={dbname} user={SUPERUSER} password={SUPERUSER_PASSWORD}"


@dataclass
class PgBouncer:
    base_dir: Path
    databases: dict[str, str]  # client-facing name -> connection string
    pool_mode: str = "transaction"
    port: int = field(default_factory=free_port)
    # The users clients may log in as (trust, but each must be listed in the auth file); postgres is the admin.
    users: tuple[str, ...] = (SUPERUSER,)

    @property
    def ini(self) -> Path:
        return self.base_dir / "pgbouncer.ini"

    @property
    def pidfile(self) -> Path:
        return self.base_dir / "pgbouncer.pid"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/pgbouncer"

    def dsn(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def write_config(self) -> None:
        users = self.base_dir / "userlist.txt"
        users.write_text("".join(f'"{user}" ""\n' for user in self.users))
        entries = "\n".join(f"{name} = {connstr}" for name, connstr in self.databases.items())
        self.ini.write_text(f"""; written by the tests
[databases]
{entries}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
admin_users = {SUPERUSER}
pool_mode = {self.pool_mode}
default_pool_size = 4
ignore_startup_parameters = extra_float_digits
logfile = {self.base_dir / "pgbouncer.log"}
pidfile = {self.pidfile}
""")
        for path in (self.base_dir, users, self.ini):
            chown_to_pg_user(path)

    def start(self) -> PgBouncer:
        self.write_config()
        subprocess.run(as_pg_user([PGBOUNCER, "-d", str(self.ini)]), check=True, capture_output=True, text=True)
        wait_for_port(self.port, timeout=20)
        return self

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def new_pgbouncer(databases: dict[str, str], **kwargs) -> PgBouncer:
    base = Path(tempfile.mkdtemp(prefix="dbops-pgbouncer-"))
    return PgBouncer(base_dir=base, databases=databases, **kwargs).start()


def destroy_pgbouncer(bouncer: PgBouncer) -> None:
    bouncer.stop()
    shutil.rmtree(bouncer.base_dir, ignore_errors=True)

"""Throwaway PostgreSQL 15 clusters started with initdb/pg_ctl under a temp dir.

PostgreSQL refuses to run as root, so when the tests run as root every server-side command
(initdb, pg_ctl, postgres) runs as a dedicated OS user (DBOPS_PG_OS_USER, default ``dbops-pg``,
created by ``make setup``). Clients (psycopg, pg_dump, the modules) connect over TCP with a password.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .ports import free_port

PG_BIN_DIR = Path(os.environ.get("DBOPS_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = os.environ.get("DBOPS_PG_OS_USER", "dbops-pg")
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "dbops-test-secret"


def _is_root() -> bool:
    return os.geteuid() == 0


def as_pg_user(argv: list[str]) -> list[str]:
    """Prefix a command so that it runs as the cluster's OS user when we are root."""
    if _is_root():
        return ["runuser", "-u", PG_OS_USER, "--", *argv]
    return argv


def chown_to_pg_user(path: Path) -> None:
    if _is_root():
        entry = pwd.getpwnam(PG_OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class PgCluster:
    """One PostgreSQL cluster: data directory, socket directory and a port of its own."""

    base_dir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_conf: dict[str, str] = field(default_factory=dict)

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def logfile(self) -> Path:
        return self.base_dir / "server.log"

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = SUPERUSER_PASSWORD) -> str:
        auth = quote(user) + (":" + quote(password) if password is not None else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname)}"

    def bin(self, name: str) -> str:
        return str(PG_BIN_DIR / name)

    def run(self, argv: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(as_pg_user(argv), check=check, capture_output=True, text=True, **kwargs)

    def init(self) -> PgCluster:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        chown_to_pg_user(self.base_dir)
        self.socket_dir.mkdir(exist_ok=True)
        chown_to_pg_user(self.socket_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        chown_to_pg_user(pwfile)
        self.run([
            self.bin("initdb"), "-D", str(self.datadir), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        ])
        pwfile.unlink()
        settings = {
            "port": str(self.port),
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "on",
            "max_connections": "60",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        settings.update(self.extra_conf)
        self.append_conf(settings)
        return self

    def append_conf(self, settings: dict[str, str]) -> None:
        conf = self.datadir / "postgresql.conf"
        lines = [f"{key} = {value}" for key, value in settings.items()]
        self.run(["sh", "-c", f"cat >> '{conf}'"], input="\n".join(lines) + "\n")

    def start(self, timeout: int = 60) -> PgCluster:
        self.run([self.bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", str(timeout),
                  "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self.run([self.bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"], check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        if not self.datadir.exists():
            return False
        return self.run([self.bin("pg_ctl"), "-D", str(self.datadir), "status"], check=False).returncode == 0

    def postmaster_pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill9(self) -> None:
        pid = self.postmaster_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        out = subprocess.run(
            [self.bin("psql"), self.dsn(dbname), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def schema_dump(self, dbname: str = "postgres", exclude_schema: str | None = "dbops") -> str:
        """pg_dump --schema-only, without the lines that differ between two dumps of the same schema."""
        argv = [self.bin("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", self.dsn(dbname)]
        if exclude_schema:
            argv[1:1] = ["--exclude-schema", exclude_schema]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        # pg_dump 15.18 writes \restrict/\unrestrict lines with a random key.
        return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)


def new_cluster(prefix: str = "dbops-pg-", **kwargs) -> PgCluster:
    """A new initialised and started cluster under a fresh temp dir."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = PgCluster(base_dir=base, **kwargs).init()
    for attempt in range(3):
        try:
            return cluster.start()
        except subprocess.CalledProcessError:
            # Port taken between free_port() and start: pick another.
            if attempt == 2:
                raise
            time.sleep(0.2)
            cluster.port = free_port()
            cluster.append_conf({"port": str(cluster.port)})
    return cluster

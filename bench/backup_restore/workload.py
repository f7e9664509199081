"""The source cluster of the backup/restore benchmark and the data and WAL it is given.

One cluster, archiving to every contender's repository at once through one archive script (the pushes run in
parallel, so neither contender's backup waits on the other's archiver), a `pgbench -i -s N` database, and WAL
written after the base backups by plain pgbench runs until the requested amount has been produced.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.pg_cluster import PG_BIN_DIR, SUPERUSER_PASSWORD, PgCluster, chown_to_pg_user

# pgBackRest refuses to back up a cluster whose archive_command does not mention it: the name does.
ARCHIVE_SCRIPT = "archive-wal-to-dbops-and-pgbackrest.sh"
# While this file exists the archive script archives nothing and reports success: set once the source is
# stopped, so that the throwaway restored clusters never write a new timeline into the repositories that the
# next restore reads.
FROZEN_FLAG = "archive-frozen"


@dataclass
class Source:
    cluster: PgCluster
    work_dir: Path

    @property
    def dsn(self) -> str:
        return self.cluster.dsn()

    def query(self, sql: str) -> object:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(sql)  # type: ignore[arg-type]  # trusted, fixed SQL
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def new_source(work_dir: Path, port: int) -> Source:
    """An initialised (not yet started) cluster whose archive_command is the shared archive script."""
    cluster = PgCluster(base_dir=work_dir / "source", port=port, extra_conf={
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"'{work_dir / ARCHIVE_SCRIPT} %p %f'",
        "archive_timeout": "0",
        # Production-like durability for the files both tools read and write; commits of the load need not wait.
        "fsync": "on",
        "synchronous_commit": "off",
        "max_wal_size": "4GB",
        "checkpoint_timeout": "30min",
        "max_wal_senders": "10",
    })
    cluster.init()
    return Source(cluster=cluster, work_dir=work_dir)


def write_archive_script(work_dir: Path, commands: list[str]) -> None:
    """commands are shell lines using "$1" (the WAL path, relative to the data directory) and "$2" (its name)."""
    lines = [
        "#!/bin/sh",
        "# archive_command of the benchmark's source cluster: every contender's archiver, in parallel;",
        "# fails (so PostgreSQL retries the segment) when any of them fails.",
        f"[ -f {shlex.quote(str(work_dir / FROZEN_FLAG))} ] && exit 0",
        "status=0",
        "pids=''",
    ]
    for command in commands:
        lines.append(f"( {command} ) & pids=\"$pids $!\"")
    lines += ["for pid in $pids; do wait $pid || status=1; done", "exit $status", ""]
    script = work_dir / ARCHIVE_SCRIPT
    script.write_text("\n".join(lines))
    script.chmod(0o755)
    chown_to_pg_user(script)


def freeze_archiving(work_dir: Path) -> None:
    flag = work_dir / FROZEN_FLAG
    flag.touch()
    chown_to_pg_user(flag)


def _pgbench_env() -> dict[str, str]:
    return dict(os.environ, PGPASSWORD=SUPERUSER_PASSWORD)


def pgbench_init(source: Source, scale: int) -> None:
    cluster = source.cluster
    subprocess.run([str(PG_BIN_DIR / "pgbench"), "-i", "-q", "-s", str(scale), "-h", cluster.host, "-p",
                    str(cluster.port), "-U", "postgres", "postgres"], check=True, capture_output=True,
                   env=_pgbench_env())
    source.query("CHECKPOINT")


def current_lsn(source: Source) -> str:
    return str(source.query("SELECT pg_current_wal_lsn()"))


def wal_bytes_since(source: Source, lsn: str) -> int:
    with psycopg.connect(source.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", (lsn,)).fetchone()
    return int(row[0]) if row else 0


def write_wal(source: Source, since_lsn: str, target_bytes: int, timeout_s: float = 900.0) -> int:
    """Run pgbench in short rounds until target_bytes of WAL exist after since_lsn; returns the bytes written."""
    cluster = source.cluster
    deadline = time.monotonic() + timeout_s
    written = wal_bytes_since(source, since_lsn)
    while written < target_bytes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {written} bytes of WAL written after {timeout_s:.0f}s of pgbench")
        subprocess.run([str(PG_BIN_DIR / "pgbench"), "-n", "-c", "4", "-j", "2", "-T", "3", "-h", cluster.host,
                        "-p", str(cluster.port), "-U", "postgres", "postgres"], check=True, capture_output=True,
                       env=_pgbench_env())
        written = wal_bytes_since(source, since_lsn)
    return written


def create_restore_point(source: Source, name: str) -> tuple[str, str]:
    """pg_create_restore_point in its own statement, then a WAL switch; returns (point LSN, its segment name)."""
    with psycopg.connect(source.dsn, autocommit=True) as conn:
        lsn = str(conn.execute("SELECT pg_create_restore_point(%s)", (name,)).fetchone()[0])  # type: ignore[index]
        segment = str(conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (lsn,)).fetchone()[0])  # type: ignore[index]
        conn.execute("SELECT pg_switch_wal()")
    return lsn, segment


def segment_of(source: Source, lsn: str) -> str:
    with psycopg.connect(source.dsn, autocommit=True) as conn:
        return str(conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (lsn,)).fetchone()[0])  # type: ignore[index]


def wait_archived(source: Source, segment: str, timeout_s: float = 600.0) -> None:
    """Until pg_stat_archiver has archived segment (names of one timeline sort in WAL order)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with psycopg.connect(source.dsn, autocommit=True) as conn:
            last, failed = conn.execute(
                "SELECT coalesce(last_archived_wal, ''), failed_count FROM pg_stat_archiver").fetchone()  # type: ignore[misc]
        if last and last[:24] >= segment:
            return
        time.sleep(0.2)
    raise RuntimeError(f"segment {segment} not archived after {timeout_s:.0f}s (archiver failures: {failed})")

"""Starting a restored cluster and waiting until it is really promoted, the same way for every contender.

`pg_ctl -w start` returns at consistency, long before the recovery target is reached, and a target that is never
reached makes the server stop later: only `pg_is_in_recovery()` = false, from a live postmaster, proves the
restore is done.
"""

from __future__ import annotations

import time

import psycopg

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.processes import process_alive
from tests.support.pg_cluster import PgCluster


def _postmaster_alive(cluster: PgCluster) -> bool:
    pid = cluster.postmaster_pid()
    if pid is None:
        return False
    return process_alive(pid)


def start_without_waiting(cluster: PgCluster) -> None:
    cluster.run([cluster.bin("pg_ctl"), "-D", str(cluster.datadir), "-l", str(cluster.logfile), "start"])


def wait_promoted(cluster: PgCluster, timeout_s: float = 900.0, poll_s: float = 0.02) -> None:
    """Poll until the server answers pg_is_in_recovery() = false; fail at once when the postmaster is gone."""
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(cluster.dsn(), connect_timeout=2, autocommit=True) as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,):
                    return
        except psycopg.OperationalError:
            # Starting up / in recovery before consistency: refuses connections. Give the postmaster a moment
            # to write its pid file before calling its absence a death.
            if time.monotonic() - started > 5 and not _postmaster_alive(cluster):
                tail = cluster.logfile.read_text(errors="replace")[-2000:] if cluster.logfile.exists() else ""
                raise RuntimeError(f"restored server in {cluster.datadir} stopped during recovery:\n{tail}") from None
        time.sleep(poll_s)
    raise RuntimeError(f"restored server in {cluster.datadir} not promoted after {timeout_s:.0f}s")

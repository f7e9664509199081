"""The client's view of a switch (probe_dsn): a thread that commits through PgBouncer in a loop while the switch
runs and reports the largest gap between two consecutive commits (what an application request would have waited)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect, psycopg


class CommitProbe:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.commits: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dbops-cutover-probe", daemon=True)

    def start(self) -> CommitProbe:
        self._thread.start()
        return self

    def _run(self) -> None:
        conn: Any = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = connect(self.dsn, autocommit=True, connect_timeout=5)
                    # No server-side prepared statements: PgBouncer may pool transactions across server connections.
                    conn.prepare_threshold = None
                conn.execute("SELECT 1")
                self.commits.append(time.monotonic())
            except Exception:  # noqa: BLE001 - a failed request is what the probe counts, it must go on
                self.failures += 1
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
                time.sleep(0.005)
        if conn is not None:
            conn.close()

    def stop(self) -> float | None:
        """Stop and return the largest gap between two commits in milliseconds (None: fewer than two)."""
        self._stop.set()
        self._thread.join(timeout=10)
        if len(self.commits) < 2:
            return None
        gaps = [later - earlier for earlier, later in zip(self.commits, self.commits[1:], strict=False)]
        return round(max(gaps) * 1000, 1)

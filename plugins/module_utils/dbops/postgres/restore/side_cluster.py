"""A throwaway PostgreSQL cluster recovered to a point in time, beside the live one and never in its place.

The point-in-time restore (pitr_restore.PgRestore) is reused as it is, aimed at a data directory inside a private
temporary directory instead of the live one: it plans, checks every WAL file, fetches and verifies the base
backup, and recovers to the target. Only the configuration differs: another port on 127.0.0.1, the sockets in the
temporary directory, and archiving off, so the side cluster never writes into the live cluster's WAL archive.
It is promoted at the target (pausing would need a hot standby's read-only snapshot, and pg_dump reads a promoted
server the same way); it is stopped and removed when the block ends, also on failure.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connected, make_conninfo
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_restore import (
    ARCHIVE_SETTINGS,
    PgRestore,
    PgRestorePlan,
    PgRestoreRequest,
    PgRestoreResult,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost


@dataclass(frozen=True)
class SideCluster:
    dsn: str  # the live DSN's credentials and database, on the side cluster's port
    port: int
    restored: PgRestoreResult


def free_local_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _SideRestore(PgRestore):
    """PgRestore into a side data directory: its own port and sockets, no archiving."""

    def __init__(self, request: PgRestoreRequest, port: int, socket_dir: Path, live_dsn: str) -> None:
        super().__init__(request)
        self.port = port
        self.socket_dir = socket_dir
        self.live_dsn = live_dsn

    def _live_settings(self) -> dict[str, str]:
        """The live cluster's restore_command (or its archive_command's): where the side cluster finds the WAL."""
        with connected(self.live_dsn, "to read the live cluster's archive settings") as conn:
            row = conn.execute("select current_setting('archive_mode'), current_setting('archive_command'),"
                               " current_setting('restore_command')").fetchone()
        return dict(zip(ARCHIVE_SETTINGS, row, strict=True))

    def _configure(self, plan: PgRestorePlan, new_dir: Path, live: dict[str, str]) -> dict[str, str]:
        settings = super()._configure(plan, new_dir, live)
        side = {"port": str(self.port), "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(self.socket_dir), "archive_mode": "off",
                "archive_command": "", "logging_collector": "off"}
        with open(new_dir / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
            handle.write("# dbops side cluster: never archives, never on the live port\n")
            handle.write("".join(f"{key} = '{value}'\n" for key, value in side.items()))
        self.owner.chown_tree(new_dir)
        return {**settings, **side}


@contextmanager
def side_cluster(request: PgRestoreRequest, plan: PgRestorePlan, work_dir: str | None = None
                 ) -> Iterator[SideCluster]:
    """Recover plan (made by pitr_restore.plan_pg_restore for request.target) into a new cluster under a temporary
    directory; yield where to reach it."""
    owner = ClusterOwner(request.cluster.os_user)
    root = Path(tempfile.mkdtemp(prefix="dbops-side-cluster-", dir=work_dir))
    port = free_local_port()
    try:
        owner.chown_tree(root)
        root.chmod(0o700)
        pgdata = root / "data"
        cluster = ClusterOnHost(pgdata=str(pgdata), bin_dir=request.cluster.bin_dir, os_user=request.cluster.os_user,
                                log_file=str(root / "side-cluster.log"))
        (root / "side-cluster.log").touch(mode=0o640)
        owner.chown_tree(root / "side-cluster.log")
        dsn = make_conninfo(request.postgres_dsn, host="127.0.0.1", port=str(port))
        side_request = replace(request, postgres_dsn=dsn, cluster=cluster, flush_before=False,
                               verify_archiving=False)
        restore = _SideRestore(side_request, port, root, request.postgres_dsn)
        try:
            restored = restore.run(plan)
            yield SideCluster(dsn=dsn, port=port, restored=restored)
        finally:
            cluster.control(str(pgdata)).stop(mode="immediate", timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)

"""Measured PostgreSQL health for the emergency assessment: replication lag and the WAL archiver (read only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso

REPLICATION_QUERY = (
    "SELECT application_name, client_addr::text, state, "
    "EXTRACT(EPOCH FROM replay_lag)::float8, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint "
    "FROM pg_stat_replication ORDER BY application_name"
)
ARCHIVER_QUERY = (
    "SELECT current_setting('archive_mode'), archived_count, last_archived_wal, last_archived_time, failed_count, "
    "last_failed_wal, last_failed_time FROM pg_stat_archiver"
)


def replication(conn: Any, queries: list[str]) -> list[dict[str, Any]]:
    """One entry per standby streaming from this server (none: an empty list)."""
    queries.append(REPLICATION_QUERY)
    return [{"application_name": name, "client_addr": addr, "state": state, "replay_lag_s": lag,
             "replay_lag_bytes": lag_bytes}
            for name, addr, state, lag, lag_bytes in conn.execute(REPLICATION_QUERY).fetchall()]


def archiver(conn: Any, queries: list[str]) -> dict[str, Any]:
    """pg_stat_archiver, with healthy = archiving is on and nothing failed since the last success."""
    queries.append(ARCHIVER_QUERY)
    mode, archived, last_wal, last_time, failed, failed_wal, failed_time = conn.execute(ARCHIVER_QUERY).fetchone()
    failing = failed_time is not None and (last_time is None or failed_time > last_time)
    return {
        "archive_mode": mode, "archived_count": archived, "last_archived_wal": last_wal,
        "last_archived_time": to_iso(last_time) if last_time else None, "failed_count": failed,
        "last_failed_wal": failed_wal, "last_failed_time": to_iso(failed_time) if failed_time else None,
        "healthy": mode in ("on", "always") and not failing,
    }

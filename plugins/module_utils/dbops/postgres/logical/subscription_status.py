"""Where a subscription stands: enabled, its tables' sync states, its slot's position on the source and the lag."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import catalogue

READY = "r"  # pg_subscription_rel.srsubstate: copied and streaming
STATE_NAMES = {"i": "init", "d": "data_copy", "f": "finished_copy", "s": "synchronized", "r": "ready"}


@dataclass
class SubscriptionStatus:
    exists: bool  # the subscription, on the target
    enabled: bool | None = None
    tables: dict[str, int] = field(default_factory=dict)  # sync state name -> number of tables
    slot_exists: bool = False
    slot_active: bool | None = None
    confirmed_flush_lsn: str | None = None
    lag_bytes: int | None = None
    publication_exists: bool = False
    publication_tables: int = 0

    @property
    def tables_ready(self) -> int:
        return self.tables.get(STATE_NAMES[READY], 0)

    @property
    def tables_total(self) -> int:
        return sum(self.tables.values())


def read_status(source: Any | None, target: Any | None, name: str) -> SubscriptionStatus:
    """Either side may be None (unreachable): its part of the status stays unknown."""
    status = SubscriptionStatus(exists=False)
    oid = catalogue.subscription_oid(target, name) if target is not None else None
    if target is not None and oid is not None:
        status.exists = True
        status.enabled = bool(target.execute("SELECT subenabled FROM pg_subscription WHERE oid = %s",
                                             (oid,)).fetchone()[0])
        rows = target.execute("SELECT srsubstate, count(*) FROM pg_subscription_rel WHERE srsubid = %s "
                              "GROUP BY 1 ORDER BY 1", (oid,)).fetchall()
        status.tables = {STATE_NAMES.get(str(row[0]), str(row[0])): int(row[1]) for row in rows}
    if source is None:
        return status
    slot = source.execute("""
        SELECT active, confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
          FROM pg_replication_slots WHERE slot_name = %s""", (name,)).fetchone()
    if slot is not None:
        status.slot_exists = True
        status.slot_active = bool(slot[0])
        status.confirmed_flush_lsn = slot[1]
        status.lag_bytes = None if slot[2] is None else int(slot[2])
    status.publication_exists = catalogue.publication_exists(source, name)
    if status.publication_exists:
        status.publication_tables = len(catalogue.publication_tables(source, name))
    return status

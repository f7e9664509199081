"""What the guardrails and the set-up read from the catalogues; every function only reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import (
    LEDGER_SCHEMA,
    Table,
)

# Processes that do not take one of max_worker_processes' slots (the rest are background workers).
_NOT_BACKGROUND_WORKERS = ("client backend", "autovacuum launcher", "autovacuum worker", "background writer",
                           "checkpointer", "walwriter", "walsender", "walreceiver", "archiver", "startup", "logger",
                           "standalone backend")


@dataclass(frozen=True)
class TableIdentity:
    schema: str
    table: str
    replica_identity: str  # d(efault: the primary key), n(othing), f(ull), i(ndex)
    has_primary_key: bool

    @property
    def usable(self) -> bool:
        """UPDATE and DELETE can be published: a primary key (default identity), FULL, or USING INDEX."""
        return self.replica_identity in ("f", "i") or (self.replica_identity == "d" and self.has_primary_key)


@dataclass(frozen=True)
class OldTransaction:
    pid: int
    user: str
    age_seconds: float
    database: str


def setting(conn: Any, name: str) -> str:
    return str(conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0])


def integer_setting(conn: Any, name: str) -> int:
    return int(setting(conn, name))


def table_identities(conn: Any, tables: Sequence[Table]) -> list[TableIdentity]:
    rows = conn.execute("""
        SELECT n.nspname, c.relname, c.relreplident,
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
         ORDER BY 1, 2""", ([item[0] for item in tables], [item[1] for item in tables])).fetchall()
    return [TableIdentity(row[0], row[1], row[2], bool(row[3])) for row in rows]


def partitioned_tables(conn: Any) -> list[Table]:
    rows = conn.execute("""
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s)
         ORDER BY 1, 2""", (LEDGER_SCHEMA,)).fetchall()
    return [(row[0], row[1]) for row in rows]


def used_replication_slots(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0])


def used_wal_senders(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()[0])


def used_logical_workers(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL").fetchone()[0])


def used_background_workers(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE NOT (backend_type = ANY(%s))",
                            (list(_NOT_BACKGROUND_WORKERS),)).fetchone()[0])


def old_transactions(conn: Any, max_age_seconds: float) -> list[OldTransaction]:
    """Transactions open longer than max_age_seconds anywhere on the server: creating a logical slot waits for every
    one of them to end."""
    rows = conn.execute("""
        SELECT pid, coalesce(usename, ''), extract(epoch FROM now() - xact_start)::float8, coalesce(datname, '')
          FROM pg_stat_activity
         WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
           AND now() - xact_start > make_interval(secs => %s)
         ORDER BY xact_start""", (max_age_seconds,)).fetchall()
    return [OldTransaction(int(row[0]), row[1], round(float(row[2]), 1), row[3]) for row in rows]


def tables_with_rows(conn: Any, tables: Sequence[Table]) -> list[Table]:
    found = []
    for table in tables:
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(*table))
        if conn.execute(query).fetchone()[0]:
            found.append(table)
    return found


def publication_exists(conn: Any, name: str) -> bool:
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = %s)",
                             (name,)).fetchone()[0])


def publication_tables(conn: Any, name: str) -> list[Table]:
    rows = conn.execute("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s ORDER BY 1, 2",
                        (name,)).fetchall()
    return [(row[0], row[1]) for row in rows]


def subscription_oid(conn: Any, name: str) -> int | None:
    """The subscription of this name in the connection's database, or None."""
    row = conn.execute("""
        SELECT s.oid FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
         WHERE s.subname = %s AND d.datname = current_database()""", (name,)).fetchone()
    return int(row[0]) if row else None


def subscribed_tables(conn: Any, subscription: int) -> list[Table]:
    rows = conn.execute("""
        SELECT n.nspname, c.relname FROM pg_subscription_rel r
          JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE r.srsubid = %s ORDER BY 1, 2""", (subscription,)).fetchall()
    return [(row[0], row[1]) for row in rows]


def slot_exists(conn: Any, name: str) -> bool:
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
                             (name,)).fetchone()[0])

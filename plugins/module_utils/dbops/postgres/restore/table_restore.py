"""Single tables as they were at a point in time: staged into a side schema of the live database, then copied back.

Staging: on the side cluster (side_cluster.py) each table is moved into the side schema (ALTER TABLE ... SET
SCHEMA carries its indexes, constraints and owned sequences along), dumped from there with pg_dump (definition,
rows, grants; no owner, so the live connection's role owns the copy) and loaded into the live database with psql,
after any earlier side copy of the same table is dropped. The side copy stays for inspection.
Copy back: a table missing from the live database is moved out of the side schema into its own (one ALTER TABLE:
definition, indexes, constraints, grants, owned sequences and rows come along). A table present gets its rows
replaced in one transaction under an ACCESS EXCLUSIVE lock (readers wait for it), with triggers and foreign-key
actions off (session_replication_role = replica) so that no cascade fires while the rows are swapped; its owned
sequences are moved forward to the copy's values where those are higher.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connected, sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import PgBinaries
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import client_connection


@dataclass(frozen=True)
class TableName:
    schema: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        schema, dot, name = text.partition(".")
        if not dot:
            schema, name = "public", text
        if not schema or not name or "." in name:
            raise RestoreError(f"table {text!r}: give it as schema.table")
        return cls(schema, name)

    def ident(self) -> Any:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def exists(conn: Any, table: TableName) -> bool:
    qualified = sql.Identifier(table.schema, table.name).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row[0])


def _run(conn: Any, statement: Any, queries: list[str]) -> Any:
    queries.append(statement.as_string(conn) if hasattr(statement, "as_string") else str(statement))
    return conn.execute(statement)


def stage(side_dsn: str, live_dsn: str, tables: list[TableName], side_schema: str, binaries: PgBinaries,
          queries: list[str]) -> dict[str, int]:
    """Copy tables from the side cluster into side_schema of the live database; rows per table."""
    with connected(side_dsn, "to read the tables as they were") as side:
        missing = [str(table) for table in tables if not exists(side, table)]
        if missing:
            raise RestoreError(f"table(s) {', '.join(missing)} did not exist at the restore target; nothing was "
                               "copied into the live database")
        _run(side, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(side_schema)), queries)
        patterns = []
        for table in tables:
            _run(side, sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(side_schema, table.name)), queries)
            _run(side, sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(table.ident(), sql.Identifier(side_schema)),
                 queries)
            patterns.append(sql.Identifier(side_schema, table.name).as_string(side))
    side_client = client_connection(side_dsn)
    live_client = client_connection(live_dsn)
    with tempfile.TemporaryDirectory(prefix="dbops-table-restore-") as work:
        dump_file = Path(work) / "tables.sql"
        argv = [binaries.path("pg_dump"), "--no-owner", "--format=plain", "--file", str(dump_file),
                "--dbname", side_client.conninfo]
        for pattern in patterns:
            argv += ["--table", pattern]
        ClusterOwner(None).run(argv, env=side_client.env(), what="pg_dump of the side copies")
        _load(live_dsn, live_client, dump_file, tables, side_schema, binaries, queries)
    with connected(live_dsn, "to count the staged rows") as live:
        return {str(table): int(live.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(side_schema, table.name))).fetchone()[0]) for table in tables}


def _load(live_dsn: str, live_client: Any, dump_file: Path, tables: list[TableName], side_schema: str,
          binaries: PgBinaries, queries: list[str]) -> None:
    with connected(live_dsn, "to stage the restored tables") as live:
        _run(live, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(side_schema)), queries)
        for table in tables:
            _run(live, sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(side_schema, table.name)),
                 queries)
    queries.append(f"psql --single-transaction -f <pg_dump of {', '.join(side_schema + '.' + t.name for t in tables)}>")
    ClusterOwner(None).run([binaries.path("psql"), "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
                            "--single-transaction", "--file", str(dump_file), "--dbname", live_client.conninfo],
                           env=live_client.env(), what="loading the side copies into the live database")


def copy_back(live_dsn: str, table: TableName, side_schema: str, queries: list[str]) -> str:
    """Put the side copy's rows back into the live table; how it was done."""
    side = sql.Identifier(side_schema, table.name)
    with connected(live_dsn, f"to copy {table} back") as conn:
        if not exists(conn, table):
            _run(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)), queries)
            _run(conn, sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(side, sql.Identifier(table.schema)), queries)
            return "recreated"
        columns = [row[0] for row in conn.execute(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
            "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum", (side.as_string(conn),)).fetchall()]
        names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        with conn.transaction():
            _run(conn, sql.SQL("SET LOCAL session_replication_role = replica"), queries)
            _run(conn, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.ident()), queries)
            _run(conn, sql.SQL("DELETE FROM {}").format(table.ident()), queries)
            _run(conn, sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                table.ident(), names, names, side), queries)
            _advance_sequences(conn, table, queries)
        return "rows replaced"


def _advance_sequences(conn: Any, table: TableName, queries: list[str]) -> None:
    """Owned sequences past the highest value now in their column: the rows put back must not collide later."""
    owned = conn.execute(
        "SELECT n.nspname, s.relname, a.attname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
        "JOIN pg_namespace n ON n.oid = s.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE s.relkind = 'S' AND d.refobjid = to_regclass(%s) AND d.deptype IN ('a', 'i')",
        (table.ident().as_string(conn),)).fetchall()
    for schema, name, column in owned:
        sequence = sql.Identifier(schema, name)
        statement = sql.SQL("SELECT setval({}, greatest((SELECT max({}) FROM {}), (SELECT last_value FROM {})))"
                            ).format(sql.Literal(sequence.as_string(conn)), sql.Identifier(column), table.ident(),
                                     sequence)
        _run(conn, statement, queries)

"""flyway_schema_history written as Flyway documents it (Flyway itself cannot be installed here)."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway_checksum import flyway_checksum
from tests.support.pg_migrations import query

# Flyway's PostgreSQL history table, as its documentation describes it.
FLYWAY_TABLE_DDL = """
CREATE TABLE flyway_schema_history (
    installed_rank integer NOT NULL PRIMARY KEY,
    version        varchar(50),
    description    varchar(200) NOT NULL,
    type           varchar(20) NOT NULL,
    script         varchar(1000) NOT NULL,
    checksum       integer,
    installed_by   varchar(100) NOT NULL,
    installed_on   timestamp NOT NULL DEFAULT now(),
    execution_time integer NOT NULL,
    success        boolean NOT NULL
);
CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);
"""


def flyway_applies(dsn: str, migrations: Path, scripts: list[str], *, failed: str | None = None,
                   replace: dict[str, str] | None = None) -> None:
    """What `flyway migrate` does: run each script (placeholders replaced), then write its history row."""
    if query(dsn, "SELECT to_regclass('flyway_schema_history')") == [(None,)]:
        query(dsn, FLYWAY_TABLE_DDL)
    rank = query(dsn, "SELECT coalesce(max(installed_rank), 0) FROM flyway_schema_history")[0][0]
    for script in scripts:
        text = (migrations / script).read_text()
        sql = text
        for name, value in (replace or {}).items():
            sql = sql.replace("${" + name + "}", value)
        success = script != failed
        if success:
            query(dsn, sql)
        prefix, _sep, rest = script.partition("__")
        version = None if prefix == "R" else prefix[1:].replace("_", ".")
        rank += 1
        query(dsn, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                   "installed_by, execution_time, success) VALUES (%s, %s, %s, 'SQL', %s, %s, 'flyway', 3, %s)",
              (rank, version, rest.removesuffix(".sql").replace("_", " "), script, flyway_checksum(text), success))


def history_rows(dsn: str) -> list[tuple]:
    return query(dsn, "SELECT installed_rank, version, script, checksum, success FROM flyway_schema_history "
                      "ORDER BY installed_rank")

"""Retargeting a [databases] entry: only its host, port and dbname change; every other byte and the file's mode
stay; SHOW DATABASES rows as records."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic import pgbouncer_ini
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_databases import (
    PoolerDatabaseMissing,
    find_database,
    parse_show_databases,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_ini import (
    PoolerConfigError,
    Target,
)

INI = """;; PgBouncer for the app
[databases]
; the application, on blue
app = host=blue-db.internal port=5432 dbname=app user=app_user pool_size=20
"Reporting DB" = host=blue-db.internal dbname=reports
other=host=10.0.0.9  port=5433 dbname='my app' application_name='a \\'quoted\\' name'

[pgbouncer]
listen_port = 6432
app = not a database entry
"""
GREEN = Target(host="green-db.internal", port=6543, dbname="app_green")


def test_only_the_entrys_host_port_and_dbname_change() -> None:
    change = pgbouncer_ini.plan_retarget("pgbouncer.ini", INI, "app", GREEN)
    assert change.line_number == 4
    assert change.new_line == ("app = host=green-db.internal port=6543 dbname=app_green user=app_user "
                               "pool_size=20\n")
    rewritten = pgbouncer_ini.apply_change(INI, change)
    differing = [(old, new) for old, new in zip(INI.splitlines(), rewritten.splitlines(), strict=True) if old != new]
    assert len(differing) == 1 and rewritten.endswith("app = not a database entry\n")


def test_a_quoted_name_gets_the_missing_keys_appended_and_quoted_values_survive() -> None:
    change = pgbouncer_ini.plan_retarget("pgbouncer.ini", INI, "Reporting DB", GREEN)
    assert change.new_line.startswith('"Reporting DB" = host=green-db.internal dbname=app_green port=6543')
    other = pgbouncer_ini.plan_retarget("pgbouncer.ini", INI, "other",
                                        Target(host="10.0.0.9", port=5433, dbname="my app"))
    assert not other.changed  # already the target: equal lines
    assert pgbouncer_ini.parse_connection_string("dbname='my app' application_name='a \\'quoted\\' name'") == [
        ("dbname", "my app"), ("application_name", "a 'quoted' name")]


def test_an_entry_outside_databases_or_a_malformed_one_is_refused() -> None:
    with pytest.raises(PoolerConfigError, match="no entry 'listen_port'"):
        pgbouncer_ini.plan_retarget("pgbouncer.ini", INI, "listen_port", GREEN)
    with pytest.raises(PoolerConfigError, match="cannot read the connection string"):
        pgbouncer_ini.plan_retarget("x.ini", "[databases]\napp = host=a 'dangling\n", "app", GREEN)


def test_the_change_is_described_without_the_password() -> None:
    change = pgbouncer_ini.plan_retarget("p.ini", "[databases]\napp = host=a password=s3cret-pw\n", "app", GREEN)
    assert "s3cret-pw" not in change.describe() and change.describe().startswith("p.ini:2: app = host=a")


def test_the_file_is_replaced_whole_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "pgbouncer.ini"
    path.write_text(INI)
    os.chmod(path, 0o640)
    change = pgbouncer_ini.plan_retarget(path, pgbouncer_ini.read_config(path), "app", GREEN)
    pgbouncer_ini.replace_file(path, pgbouncer_ini.apply_change(INI, change))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "host=green-db.internal port=6543" in path.read_text()
    assert [entry.name for entry in tmp_path.iterdir()] == ["pgbouncer.ini"]  # no temporary left behind
    with pytest.raises(PoolerConfigError, match="cannot read"):
        pgbouncer_ini.read_config(tmp_path / "missing.ini")


# SHOW DATABASES of PgBouncer 1.18 (the admin console's own "pgbouncer" row included).
SHOW_DATABASES = [
    {"name": "app", "host": "127.0.0.1", "port": 5432, "database": "app", "force_user": None, "pool_size": 20,
     "min_pool_size": 0, "reserve_pool": 0, "pool_mode": None, "max_connections": 0, "current_connections": 3,
     "paused": 1, "disabled": 0},
    {"name": "pgbouncer", "host": None, "port": 6432, "database": "pgbouncer", "force_user": "pgbouncer",
     "pool_size": 2, "min_pool_size": 0, "reserve_pool": 0, "pool_mode": "statement", "max_connections": 0,
     "current_connections": 0, "paused": 0, "disabled": 0},
]


def test_show_databases_rows_become_records() -> None:
    databases = parse_show_databases(SHOW_DATABASES)
    app = find_database(databases, "app")
    assert app.paused and not app.disabled and app.current_connections == 3
    assert app.routes_to("127.0.0.1", 5432, "app") and not app.routes_to("127.0.0.1", 5433, "app")
    assert find_database(databases, "pgbouncer").host is None
    with pytest.raises(PoolerDatabaseMissing):
        find_database(databases, "nope")

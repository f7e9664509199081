"""Sqitch registries that cannot be taken over as they are: refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptionRefused
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.sqitch import SqitchHistory
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from tests.support.sqitch_cli import PLAN, PLANNER, sqitch, write_project

OTHER_PLAN = f"""%syntax-version=1.0.0
%project=legacy

oldstuff 2023-06-01T10:00:00Z {PLANNER} # Something flips cannot live with.
"""


def read_history(project: Path, dsn: str):
    _fmt, sets = discover(project)
    with connect(dsn) as conn:
        return SqitchHistory().read(conn, sets)


def test_plan_changed_after_deployment_is_refused(tmp_path, pg_db):
    project = write_project(tmp_path / "flipr")
    sqitch(project, "deploy", "--to", "users", dsn=pg_db, home=tmp_path)
    (project / "sqitch.plan").write_text(PLAN.replace("2024-01-02T10:00:00Z", "2024-02-02T10:00:00Z"))
    with pytest.raises(AdoptionRefused, match="disagree at change 2"):
        read_history(project, pg_db)


def test_conflict_with_a_deployed_change_of_another_project_is_refused(tmp_path, pg_db):
    legacy = write_project(tmp_path / "legacy", OTHER_PLAN, {
        "deploy/oldstuff.sql": "CREATE TABLE oldstuff (id int);\n", "revert/oldstuff.sql": "DROP TABLE oldstuff;\n"})
    sqitch(legacy, "deploy", dsn=pg_db, home=tmp_path)
    project = write_project(tmp_path / "flipr", PLAN.replace("flips [users]", "flips [users !legacy:oldstuff]"))
    sqitch(project, "deploy", "--to", "@v1.0", dsn=pg_db, home=tmp_path)
    with pytest.raises(AdoptionRefused, match="conflicts with 'legacy:oldstuff', which is deployed"):
        read_history(project, pg_db)


def test_not_a_sqitch_directory_with_a_registry_is_refused(tmp_path, pg_db):
    project = write_project(tmp_path / "flipr")
    sqitch(project, "deploy", "--to", "users", dsn=pg_db, home=tmp_path)
    with connect(pg_db) as conn, pytest.raises(AdoptionRefused, match="not a Sqitch project"):
        SqitchHistory().read(conn, [])

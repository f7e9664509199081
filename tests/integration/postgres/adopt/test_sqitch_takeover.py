"""Sqitch deploys part of a project, then `migrate` takes the database over and finishes it, with the real Sqitch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DriftError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.sqitch import (
    SqitchHistory,
    deploy_script_hash,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from tests.support.pg_migrations import query, run
from tests.support.sqitch_cli import sqitch, write_project

REGISTRY = "SELECT change_id, change, script_hash, committed_at FROM sqitch.changes ORDER BY committed_at"


def schema_without_ledgers(cluster, dsn: str) -> str:
    """pg_dump --schema-only without the engine's ledger (dbops) and Sqitch's registry (sqitch)."""
    out = subprocess.run([cluster.bin("pg_dump"), "--schema-only", "--no-owner", "--no-privileges",
                          "--exclude-schema", "dbops", "--exclude-schema", "sqitch", dsn],
                         check=True, capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "flipr")


@pytest.fixture
def second_db(pg_cluster):
    name = "t_sqitch_alone"
    dsn = pg_cluster.create_database(name)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


def test_registry_is_read_and_matched_to_the_plan(project, pg_db, tmp_path):
    sqitch(project, "deploy", "--to", "@v1.0", dsn=pg_db, home=tmp_path)
    _fmt, sets = discover(project)
    with connect(pg_db) as conn:
        reader = SqitchHistory()
        assert reader.present(conn)
        adopted = reader.read(conn, sets)
    assert [a.version for a in adopted] == ["0001", "0002", "0003"]
    assert {a.tool for a in adopted} == {"sqitch"}
    # Sqitch's script_hash is the SHA-1 of the deploy script's bytes: every file matches what Sqitch recorded.
    assert [a.matches_file for a in adopted] == [True, True, True]
    hashes = [r[2] for r in query(pg_db, REGISTRY)]
    assert hashes == [deploy_script_hash(s.postgres.up_path) for s in sets[:3]]


@pytest.mark.parametrize("adopt", ["sqitch", "auto"])
def test_migrate_takes_over_and_finishes(adopt, project, pg_cluster, pg_db, second_db, tmp_path):
    sqitch(project, "deploy", "--to", "@v1.0", dsn=pg_db, home=tmp_path)
    sqitch(project, "deploy", dsn=second_db, home=tmp_path)
    registry_before = query(pg_db, REGISTRY)

    check = run(pg_db, project, adopt=adopt, check_mode=True)
    assert check.format == "sqitch"
    assert check.baseline["tool"] == "sqitch"
    assert check.baseline["versions"] == ["0001", "0002", "0003"]
    assert check.baseline["recorded"] is False
    assert check.applied == ["0004", "0005"]
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]  # check mode records nothing
    assert query(pg_db, "SELECT to_regclass('flipr.flips')") == [(None,)]

    result = run(pg_db, project, adopt=adopt)
    assert result.applied == ["0004", "0005"]
    assert result.current == "0005"
    assert result.baseline["versions"] == ["0001", "0002", "0003"] and result.baseline["recorded"] is True
    rows = query(pg_db, "SELECT version, status, applied_from FROM dbops.schema_migrations ORDER BY version")
    assert [r[:2] for r in rows] == [(v, "applied") for v in ("0001", "0002", "0003", "0004", "0005")]
    assert [r[2] for r in rows[:3]] == ["baseline from sqitch"] * 3
    assert "baseline from sqitch" not in {r[2] for r in rows[3:]}
    assert schema_without_ledgers(pg_cluster, pg_db) == schema_without_ledgers(pg_cluster, second_db)
    assert query(pg_db, REGISTRY) == registry_before  # Sqitch's registry is left exactly as it was
    assert run(pg_db, project, adopt=adopt).changed is False


def test_a_deployed_script_edited_since_is_drift(project, pg_db, tmp_path):
    sqitch(project, "deploy", "--to", "users", dsn=pg_db, home=tmp_path)
    users = project / "deploy" / "users.sql"
    users.write_text(users.read_text().replace("password text NOT NULL", "password text"))
    with pytest.raises(DriftError, match="0002"):
        run(pg_db, project, adopt="sqitch")
    assert query(pg_db, "SELECT to_regclass('flipr.flips') IS NULL") == [(True,)]


def test_verify_script_that_raises_fails_the_change(project, pg_db, tmp_path):
    (project / "verify" / "flips.sql").write_text("BEGIN;\nSELECT missing_column FROM flipr.flips;\nROLLBACK;\n")
    with pytest.raises(Exception, match="verify script raised an error"):
        run(pg_db, project, adopt="none")
    # The change and its verification ran in one transaction: nothing of it is left.
    assert query(pg_db, "SELECT to_regclass('flipr.flips') IS NULL") == [(True,)]
    assert query(pg_db, "SELECT to_regclass('flipr.users') IS NOT NULL") == [(True,)]

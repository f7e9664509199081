"""The plan carries what a linter needs (path, SQL, transaction mode), computed by the engine, read by the module."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.lint_sources import postgres_source
from ansible_collections.sevenp.dbops.plugins.modules import migrate
from tests.unit.migrations.fake_executor import FakeExecutor, run_engine


def _only_set(root):
    return discover(root)[1][0]


@pytest.mark.parametrize(("sql", "manifest", "transactional"), [
    ("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN a int;", None, True),
    ("CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY i ON t (id);", None, False),
    ("CREATE TABLE t (id int);", "postgres: {transaction: false}\n", False),
    ("CREATE TABLE t (id int);", "postgres: {transaction: true}\n", True),
])
def test_native_part_is_described_with_the_engine_transaction_rule(tmp_path, sql, manifest, transactional):
    directory = tmp_path / "1_a"
    directory.mkdir()
    (directory / "postgres.up.sql").write_text(sql)
    if manifest:
        (directory / "migration.yml").write_text(manifest)
    source = postgres_source(_only_set(tmp_path))
    assert source == {"path": str(directory / "postgres.up.sql"), "sql": None, "transactional": transactional}


def test_dbmate_part_carries_its_up_section(tmp_path):
    (tmp_path / "20240101000000_a.sql").write_text("-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\n"
                                                   "DROP TABLE t;\n")
    source = postgres_source(_only_set(tmp_path))
    assert source["sql"].strip() == "CREATE TABLE t (id int);" and source["transactional"] is True


def test_backfill_only_part_has_no_source(tmp_path):
    directory = tmp_path / "1_a"
    directory.mkdir()
    (directory / "migration.yml").write_text("backfill: {table: t, key: id, set: 'a = 1'}\n")
    assert postgres_source(_only_set(tmp_path)) is None


def test_module_reads_the_sources_from_the_plan_without_discovering_again(tmp_path):
    for name in ("1_a", "2_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "postgres.up.sql").write_text("CREATE TABLE t (id int);")
    journal = []
    executors = {name: FakeExecutor(name, journal) for name in ("postgres", "mongodb")}
    result = migrate.result_dict(run_engine(tmp_path, executors, check_mode=True))
    for name in ("1_a", "2_b"):  # gone from disk: only the plan can answer now
        (tmp_path / name / "postgres.up.sql").unlink()
        (tmp_path / name).rmdir()
    sources = migrate.postgres_sources(str(tmp_path), result["plan"])
    assert sources == [{"version": v, "path": str(tmp_path / n / "postgres.up.sql"), "sql": None,
                        "transactional": True} for v, n in (("1", "1_a"), ("2", "2_b"))]
    assert migrate.postgres_sources(str(tmp_path), [{**result["plan"][0], "action": "rollback"}]) == []

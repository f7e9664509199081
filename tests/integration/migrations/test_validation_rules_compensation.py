"""A failed post rule fails the set and both databases are compensated; a failed pre rule changes nothing."""

from __future__ import annotations

import psycopg
import pymongo
import pytest
import yaml

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import RunRequest

PG_UP = ("CREATE TABLE lessons (id int PRIMARY KEY, course text);\n"
         "INSERT INTO lessons VALUES (1, 'intro'), (2, 'nope');\n")
PG_DOWN = "DROP TABLE lessons;\n"
MONGO_PART = {"operations": [{"add_field": {"collection": "courses", "field": "has_lessons", "default": True}}]}


def _write(tmp_path, rules):
    directory = tmp_path / "migrations" / "2024.001_lessons"
    directory.mkdir(parents=True)
    (directory / "postgres.up.sql").write_text(PG_UP)
    (directory / "postgres.down.sql").write_text(PG_DOWN)
    (directory / "mongodb.yml").write_text(yaml.safe_dump(MONGO_PART))
    (directory / "migration.yml").write_text(yaml.safe_dump({"validate": rules}))
    return str(directory.parent)


@pytest.fixture
def dbs(pg_db, mongo_server, mongo_db_name):
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE courses (slug text PRIMARY KEY)")
        conn.execute("INSERT INTO courses VALUES ('intro'), ('sql')")
    client = pymongo.MongoClient(mongo_server)
    client[mongo_db_name].courses.insert_many([{"slug": "intro"}, {"slug": "sql"}])
    yield pg_db, mongo_server, mongo_db_name, client[mongo_db_name]
    client.drop_database(mongo_db_name)
    client.close()


def _tables(dsn):
    with psycopg.connect(dsn) as conn:
        return [t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'public' ORDER BY 1")]


def _run(directory, dbs, **extra):
    dsn, uri, name, _db = dbs
    return engine.run(RunRequest(migrations_dir=directory, postgres_dsn=dsn, mongodb_uri=uri,
                                 mongodb_database=name, **extra))


def test_failed_post_rule_compensates_both_databases(tmp_path, dbs):
    directory = _write(tmp_path, [
        {"row_count": {"table": "courses", "expected_change": 0}, "batch_size": 1},
        {"no_orphans": {"table": "lessons", "column": "course", "references": {"table": "courses", "column": "slug"}},
         "batch_size": 1},
    ])
    with pytest.raises(DbopsError) as caught:
        _run(directory, dbs)
    assert "validate[1] no_orphans" in str(caught.value) and "2" in str(caught.value)
    assert _tables(dbs[0]) == ["courses"]
    assert all("has_lessons" not in doc for doc in dbs[3].courses.find())
    outcome = caught.value.result.sets[0]
    assert outcome["status"] == "failed"
    assert [r["ok"] for r in outcome["validation"]] == [True, False]
    assert outcome["validation"][1]["examples"] == ["2"]


def test_failed_pre_rule_changes_nothing(tmp_path, dbs):
    directory = _write(tmp_path, [{"row_count": {"collection": "courses", "min": 3}, "phase": "pre"}])
    with pytest.raises(DbopsError) as caught:
        _run(directory, dbs)
    assert "pre validation" in str(caught.value)
    assert _tables(dbs[0]) == ["courses"]
    assert all("has_lessons" not in doc for doc in dbs[3].courses.find())


def test_passing_rules_apply_the_set_and_are_in_the_result(tmp_path, dbs):
    directory = _write(tmp_path, [{"row_count": {"collection": "courses", "min": 2}, "phase": "pre"},
                                  {"not_null": {"table": "lessons", "column": "course"}}])
    result = _run(directory, dbs).to_dict()
    assert result["applied"] == ["2024.001"]
    assert [r["status"] for r in result["sets"][0]["validation"]] == ["passed", "passed"]


def test_check_mode_runs_the_pre_rules_and_changes_nothing(tmp_path, dbs):
    directory = _write(tmp_path, [{"row_count": {"collection": "courses", "min": 3}, "phase": "pre"},
                                  {"not_null": {"table": "lessons", "column": "course"}}])
    result = _run(directory, dbs, check_mode=True).to_dict()
    rules = result["plan"][0]["validation"]
    assert [(r["phase"], r["status"], r["check_mode"], r["read_only"]) for r in rules] == [
        ("pre", "failed", True, True), ("post", "not_run", True, True)]
    assert any("would stop before this set" in w for w in result["warnings"])
    assert _tables(dbs[0]) == ["courses"]
    assert all("has_lessons" not in doc for doc in dbs[3].courses.find())

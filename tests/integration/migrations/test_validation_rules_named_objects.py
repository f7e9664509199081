"""A rule naming a table, collection or column that neither exists nor is created by the pending sets is refused
at plan time, in check mode too, naming migration.yml and the rule, before anything changes."""

from __future__ import annotations

import psycopg
import pymongo
import pytest
import yaml

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import RunRequest

PG_UP = "CREATE TABLE lessons (id int PRIMARY KEY, course text);\nINSERT INTO lessons VALUES (1, 'intro');\n"
MONGO_PART = {"operations": [{"create_collection": {"name": "profiles"}}]}
# Everything here exists or is created by the set: courses (table and collection), lessons and profiles.
GOOD_RULES = [
    {"row_count": {"table": "courses", "min": 1}, "phase": "pre"},
    {"row_count": {"collection": "courses", "min": 1}, "phase": "pre"},
    {"no_orphans": {"table": "lessons", "column": "course", "references": {"table": "courses", "column": "slug"}}},
    {"row_count": {"collection": "profiles", "max": 0}},
]


def _write(tmp_path, rules):
    directory = tmp_path / "migrations" / "2024.001_lessons"
    directory.mkdir(parents=True)
    (directory / "postgres.up.sql").write_text(PG_UP)
    (directory / "postgres.down.sql").write_text("DROP TABLE lessons;\n")
    (directory / "mongodb.yml").write_text(yaml.safe_dump(MONGO_PART))
    (directory / "migration.yml").write_text(yaml.safe_dump({"validate": rules}))
    return directory


@pytest.fixture
def dbs(pg_db, mongo_server, mongo_db_name):
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE courses (slug text PRIMARY KEY)")
        conn.execute("INSERT INTO courses VALUES ('intro')")
    client = pymongo.MongoClient(mongo_server)
    client[mongo_db_name].courses.insert_one({"slug": "intro"})
    yield pg_db, mongo_server, mongo_db_name, client[mongo_db_name]
    client.drop_database(mongo_db_name)
    client.close()


def _run(directory, dbs, **extra):
    dsn, uri, name, _db = dbs
    return engine.run(RunRequest(migrations_dir=str(directory.parent), postgres_dsn=dsn, mongodb_uri=uri,
                                 mongodb_database=name, **extra))


def _unchanged(dbs) -> None:
    """The set's table and collection were not created, and no set is recorded as applied."""
    with psycopg.connect(dbs[0]) as conn:
        lessons, ledger = conn.execute("SELECT to_regclass('lessons'), to_regclass('dbops.schema_migrations')"
                                       ).fetchone()
        applied = conn.execute("SELECT count(*) FROM dbops.schema_migrations WHERE status = 'applied'"
                               ).fetchone()[0] if ledger else 0
    assert (lessons, applied) == (None, 0)
    assert "profiles" not in dbs[3].list_collection_names()


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_rule_naming_what_does_not_exist_stops_the_run_before_anything_changes(tmp_path, dbs, check_mode):
    directory = _write(tmp_path, [
        *GOOD_RULES,
        {"not_null": {"table": "courses", "column": "titel"}},
        {"json_schema": {"collection": "profils", "schema": {"required": ["email"]}}},
        {"not_null": {"table": "lesson", "column": "course"}},
    ])
    with pytest.raises(ValidationFailed) as caught:
        _run(directory, dbs, check_mode=check_mode)
    error = caught.value
    assert error.version == "2024.001" and error.path == str(directory / "migration.yml")
    problems = error.message.split(": ", 1)[1].split("; ")
    assert [p.split(" does not exist")[0] for p in problems] == [
        "validate[4] not_null: column titel of postgres table courses",
        "validate[5] json_schema: mongodb collection profils",
        "validate[6] not_null: postgres table lesson",
    ]
    _unchanged(dbs)


def test_rules_on_what_the_set_creates_pass_the_check_and_run(tmp_path, dbs):
    directory = _write(tmp_path, GOOD_RULES)
    planned = _run(directory, dbs, check_mode=True)
    assert [r["status"] for r in planned.plan[0]["validation"]][:2] == ["passed", "passed"]
    _unchanged(dbs)
    result = _run(directory, dbs)
    assert list(result.applied) == ["2024.001"]
    assert all(r["ok"] for r in result.sets[0]["validation"])


def test_a_pre_rule_cannot_rely_on_its_own_set(tmp_path, dbs):
    directory = _write(tmp_path, [{"row_count": {"table": "lessons", "max": 0}, "phase": "pre"}])
    with pytest.raises(ValidationFailed, match=r"validate\[0\] row_count: postgres table lessons does not exist and "
                                               r"no pending set before this one names it"):
        _run(directory, dbs, check_mode=True)

"""What validate: rules name is looked up before a run changes anything: a table, collection or column that
neither exists nor may be created by what runs before the rule is refused, naming migration.yml and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import parse_manifest
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import (
    MigrationSet,
    MongoPart,
    OnlineChange,
    PostgresPart,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.object_check import (
    check_named_objects,
)


class FakeLookup:
    """An in-process database: the objects that exist, and every lookup made."""

    def __init__(self, existing: set[tuple[str, str | None]]) -> None:
        self.existing = existing
        self.asked: list[tuple[str, str | None]] = []

    def exists(self, target, column, paging) -> bool:
        self.asked.append((target.name, column))
        return (target.name, column) in self.existing


def _set(version: str, rules: list[dict], *, up_sql: str | None = None, mongo: tuple[str, str] | None = None,
         online_change: tuple[OnlineChange, ...] = ()) -> MigrationSet:
    directory = Path(f"migrations/{version}_x")
    postgres = None
    if up_sql is not None or online_change:
        postgres = PostgresPart(up_sql=up_sql or "", down_sql=None, verify_sql=None, up_path=None, down_path=None,
                                verify_path=None, options=parse_manifest({}, directory).postgres, backfill=(),
                                checksum="-", online_change=online_change)
    mongodb = None if mongo is None else MongoPart(kind=mongo[0], path=directory / "mongodb.yml", source=mongo[1],
                                                   checksum="-")
    return MigrationSet(version, "x", directory, parse_manifest({"validate": rules}, directory / "migration.yml"),
                        postgres=postgres, mongodb=mongodb)


def _lookups(pg: FakeLookup | None = None, mongo: FakeLookup | None = None):
    return {"postgres": pg, "mongodb": mongo}.get


COURSES = {("courses", None), ("courses", "id"), ("courses", "title")}


def test_a_missing_table_is_refused_naming_the_file_and_the_rule() -> None:
    mset = _set("1", [{"row_count": {"table": "courses", "min": 1}, "phase": "pre"},
                      {"not_null": {"table": "content.coursse", "column": "title"}}], up_sql="SELECT 1;")
    with pytest.raises(ValidationFailed) as caught:
        check_named_objects([(mset, False)], _lookups(FakeLookup(COURSES)))
    text = str(caught.value)
    assert caught.value.path == str(Path("migrations/1_x/migration.yml")) and caught.value.version == "1"
    assert "validate[1] not_null: postgres table content.coursse does not exist" in text
    assert "validate[0]" not in text and "column title" not in text  # its columns are not looked up


def test_a_table_the_set_creates_passes_a_post_rule_not_a_pre_rule() -> None:
    up = "CREATE TABLE lessons (id int PRIMARY KEY, course text);"
    post = _set("1", [{"no_orphans": {"table": "lessons", "column": "course",
                                      "references": {"table": "courses", "column": "title"}}}], up_sql=up)
    check_named_objects([(post, False)], _lookups(FakeLookup(COURSES)))
    pre = _set("1", [{"not_null": {"table": "lessons", "column": "course"}, "phase": "pre"}], up_sql=up)
    with pytest.raises(ValidationFailed, match=r"validate\[0\] not_null: postgres table lessons does not exist and "
                                               r"no pending set before this one names it"):
        check_named_objects([(pre, False)], _lookups(FakeLookup(COURSES)))


def test_an_earlier_pending_set_may_create_what_a_later_pre_rule_reads() -> None:
    first = _set("1", [], up_sql='CREATE TABLE "Lessons" (id int PRIMARY KEY);')
    second = _set("2", [{"row_count": {"table": 'app."Lessons"', "max": 0}, "phase": "pre"}], up_sql="SELECT 1;")
    check_named_objects([(first, False), (second, False)], _lookups(FakeLookup(COURSES)))
    # A resumed set's pre rules do not run, so nothing they name is looked up.
    lone = FakeLookup(COURSES)
    check_named_objects([(second, True)], _lookups(lone))
    assert lone.asked == []


def test_a_missing_column_of_an_existing_table() -> None:
    rule = [{"unique": {"table": "courses", "columns": ["title", "code"]}}]
    with pytest.raises(ValidationFailed, match="column code of postgres table courses does not exist"):
        check_named_objects([(_set("1", rule, up_sql="UPDATE courses SET title = 'x';"), False)],
                            _lookups(FakeLookup(COURSES)))
    for up in ("ALTER TABLE courses ADD COLUMN code text;",
               "CREATE OR REPLACE VIEW courses AS SELECT * FROM courses_v2;",  # columns that are not named
               "-- code comes later\nSELECT 1;"):  # a mention in a comment is enough: never a false refusal
        check_named_objects([(_set("1", rule, up_sql=up), False)], _lookups(FakeLookup(COURSES)))
    # An unqualified name resolves through the search_path, which the set's SQL may point elsewhere.
    check_named_objects([(_set("1", [{"row_count": {"table": "elsewhere", "min": 0}}],
                               up_sql="SET search_path = app, public;"), False)], _lookups(FakeLookup(COURSES)))
    with pytest.raises(ValidationFailed, match="postgres table app.elsewhere does not exist"):
        check_named_objects([(_set("1", [{"row_count": {"table": "app.elsewhere", "min": 0}}],
                                   up_sql="SET search_path = app, public;"), False)], _lookups(FakeLookup(COURSES)))
    widened = (OnlineChange(table="courses", alter=("ADD COLUMN code text",)),)
    check_named_objects([(_set("1", rule, online_change=widened), False)], _lookups(FakeLookup(COURSES)))


def test_paging_key_columns_are_looked_up_too() -> None:
    rule = [{"not_null": {"table": "courses", "key": "slug", "column": "title"}}]
    with pytest.raises(ValidationFailed, match="column slug of postgres table courses"):
        check_named_objects([(_set("1", rule, up_sql="SELECT 1;"), False)], _lookups(FakeLookup(COURSES)))


def test_mongodb_collections_and_code_parts() -> None:
    rules = [{"json_schema": {"collection": "profiles", "schema": {"required": ["email"]}}},
             {"not_null": {"collection": "users", "field": "nickname"}}]  # fields are never looked up
    mongo = FakeLookup({("users", None)})
    with pytest.raises(ValidationFailed, match="validate\\[0\\] json_schema: mongodb collection profiles does not "
                                               "exist and neither this set nor a pending set before it names it"):
        check_named_objects([(_set("1", rules, mongo=("yaml", "operations: []")), False)], _lookups(mongo=mongo))
    assert mongo.asked == [("profiles", None), ("users", None)]
    yaml_part = "operations:\n  - create_collection: {name: profiles}\n"
    check_named_objects([(_set("1", rules, mongo=("yaml", yaml_part)), False)],
                        _lookups(mongo=FakeLookup({("users", None)})))
    # A mongodb.py part is code: it may create any collection, so nothing after it is refused on MongoDB.
    code = _set("1", [], mongo=("python", "def up(db, ctx):\n    db[ctx.name].insert_one({})\n"))
    later = _set("2", rules, mongo=("yaml", "operations: []"))
    check_named_objects([(code, False), (later, False)], _lookups(mongo=FakeLookup(set())))


def test_nothing_is_refused_without_a_connection_or_for_an_sql_rule() -> None:
    rules = [{"sql": "SELECT id FROM nowhere"}, {"row_count": {"collection": "nowhere", "min": 1}}]
    check_named_objects([(_set("1", rules, up_sql="SELECT 1;"), False)], _lookups(pg=FakeLookup(set())))


def test_each_object_is_looked_up_once_per_run() -> None:
    pg = FakeLookup(COURSES)
    rules = [{"not_null": {"table": "courses", "column": "title"}}, {"unique": {"table": "courses", "column": "title"}}]
    check_named_objects([(_set("1", rules, up_sql="SELECT 1;"), False), (_set("2", rules, up_sql="SELECT 1;"), False)],
                        _lookups(pg))
    assert pg.asked == [("courses", None), ("courses", "title")]

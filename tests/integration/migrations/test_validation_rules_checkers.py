"""Validation rules on real servers (PostgreSQL 15 and SecantusDB), read batch by batch."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pymongo

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import parse_manifest
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.evaluation import (
    RuleEvaluation,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.validation.rule_checker import (
    MongoRuleChecker,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.validation.rule_checker import (
    PostgresRuleChecker,
)


def _set(rules: list[dict]) -> MigrationSet:
    path = Path("2024.001_x/migration.yml")
    return MigrationSet("2024.001", "x", path.parent, parse_manifest({"validate": rules}, path))


def test_rules_pass_and_fail_in_batches_of_ten(pg_db: str, mongo_server: str, mongo_db_name: str) -> None:
    conn = psycopg.connect(pg_db, autocommit=True)
    conn.execute("CREATE TABLE courses (id int PRIMARY KEY, title text, code text)")
    conn.execute("INSERT INTO courses SELECT g, 'c' || g, CASE WHEN g IN (7, 8) THEN 'dup' ELSE 'k' || g END "
                 "FROM generate_series(1, 95) g")
    conn.execute("UPDATE courses SET title = NULL WHERE id = 42")
    db = pymongo.MongoClient(mongo_server)[mongo_db_name]
    db.courses.insert_many([{"_id": i, "pg_id": i, "title": f"c{i}"} for i in range(1, 96)])
    db.courses.update_one({"_id": 42}, {"$set": {"title": None}})
    db.notes.insert_many([{"_id": i, "course": i % 100} for i in range(1, 101)])  # 96..99 and 0: no course
    checkers = {"postgres": PostgresRuleChecker(conn), "mongodb": MongoRuleChecker(db)}
    paging = {"batch_size": 10}
    mset = _set([
        {"row_count": {"table": "courses", "min": 95, "max": 95}, "phase": "pre", **paging},
        {"row_count": {"collection": "courses", "min": 95, "max": 95}, "phase": "pre", **paging},
        {"not_null": {"table": "courses", "column": "title"}, **paging},
        {"unique": {"table": "courses", "column": "code"}, **paging},
        {"no_orphans": {"collection": "notes", "field": "course",
                        "references": {"table": "courses", "column": "id"}}, **paging},
        {"matches": {"postgres": {"table": "courses", "key": "id", "column": "title"},
                     "mongodb": {"collection": "courses", "key": "pg_id", "field": "title"}}, **paging},
        {"json_schema": {"collection": "courses", "schema": {"required": ["title"],
                                                             "properties": {"title": {"bsonType": "string"}}}},
         **paging},
        {"sql": "SELECT id FROM courses WHERE id > 93", **paging},
        {"mongodb": {"collection": "notes", "filter": {"course": {"$gt": 98}}}, **paging},
        {"row_count": {"table": "courses", "expected_change": 0}, **paging},
    ])
    evaluation = RuleEvaluation(mset, checkers, check_mode=False)
    pre = evaluation.run("pre", None)
    assert [r.ok for r in pre] == [True, True] and pre[0].checked == 95 and pre[1].checked == 95
    before = evaluation.counts_before()
    post = {r.index: r for r in evaluation.run("post", before)}
    assert (post[2].ok, post[2].offending, post[2].examples, post[2].checked) == (False, 1, ["42"], 95)
    assert (post[3].ok, post[3].offending, sorted(post[3].examples)) == (False, 2, ["7", "8"])
    assert (post[4].ok, post[4].offending, post[4].checked) == (False, 5, 100)
    assert post[5].ok and "same content" in post[5].message
    assert (post[6].ok, post[6].examples) == (False, ["42"])
    assert (post[7].ok, post[7].offending) == (False, 2)
    assert (post[8].ok, post[8].examples) == (False, ["99"])
    assert post[9].ok and post[9].before == post[9].after == 95
    db.courses.update_one({"_id": 5}, {"$set": {"title": "changed"}})
    conn.execute("DELETE FROM courses WHERE id = 95")
    post = {r.index: r for r in evaluation.run("post", before)}
    assert not post[5].ok and set(post[5].examples) == {"5", "95"}
    assert not post[9].ok and post[9].after == 94
    conn.close()

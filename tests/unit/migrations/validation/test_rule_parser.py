"""migration.yml validate: rules are parsed at discovery; a malformed rule names the file and its index."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import parse_manifest

PATH = Path("2024.001_x/migration.yml")


def test_every_kind_parses() -> None:
    manifest = parse_manifest({"validate": [
        {"row_count": {"table": "content.courses", "tolerance": "1%"}},
        {"row_count": {"collection": "courses", "min": 1}, "phase": "pre"},
        {"no_orphans": {"table": "lessons", "column": "course_id",
                        "references": {"collection": "courses", "field": "pg_id"}}},
        {"unique": {"collection": "users", "fields": ["email"]}, "batch_size": 10},
        {"not_null": {"table": "users", "columns": ["email", "name"]}, "statement_timeout": "5s"},
        {"json_schema": {"collection": "users", "schema": {"required": ["email"]}, "sample": 50}},
        {"matches": {"postgres": {"table": "courses", "key": "id", "column": "title"},
                     "mongodb": {"collection": "courses", "key": "pg_id", "field": "title"}}},
        {"sql": "SELECT 1 WHERE false;"},
        {"mongodb": {"collection": "users", "filter": {"email": None}}},
    ]}, PATH)
    kinds = [r.kind for r in manifest.rules]
    assert kinds == ["row_count", "row_count", "no_orphans", "unique", "not_null", "json_schema", "matches", "sql",
                     "mongodb"]
    assert manifest.rules[0].tolerance_pct == 1.0 and manifest.rules[0].phase == "post"
    assert manifest.rules[3].paging.batch_size == 10
    assert manifest.rules[4].paging.statement_timeout_ms == 5000
    assert manifest.rules[7].query == "SELECT 1 WHERE false"
    assert manifest.rules[6].databases() == ["postgres", "mongodb"]
    assert manifest.validate == {}


def test_the_older_mapping_still_works() -> None:
    manifest = parse_manifest({"validate": {"postgres": "SELECT 1 WHERE false"}}, PATH)
    assert manifest.rules == () and manifest.validate["postgres"]


@pytest.mark.parametrize(("rule", "words"), [
    ({"row_count": {"table": "t"}, "phase": "during"}, "phase must be pre or post"),
    ({"row_count": {"table": "t"}, "phase": "pre"}, "min: and/or max:"),
    ({"unique": {"table": "t", "fields": ["a"]}}, "columns"),
    ({"not_null": {"collection": "c", "columns": ["a"]}}, "fields"),
    ({"no_orphans": {"table": "t", "column": "a"}}, "references must be a mapping"),
    ({"json_schema": {"table": "t", "schema": {"required": ["a"]}}}, "collection"),
    ({"matches": {"postgres": {"table": "t", "key": "id", "column": "a"}}}, "give postgres: and mongodb:"),
    ({"sql": ""}, "sql must be a query"),
    ({"sql": "SELECT 1", "unique": {"table": "t", "column": "a"}}, "exactly one kind"),
    ({"sql": "SELECT 1", "batch_size": 0}, "batch_size"),
    ({"count": {"table": "t"}}, "unknown key"),
])
def test_malformed_rules_name_the_file_and_the_rule(rule: dict, words: str) -> None:
    with pytest.raises(MigrationFormatError) as caught:
        parse_manifest({"validate": [{"sql": "SELECT 1 WHERE false"}, rule]}, PATH)
    assert "validate[1]" in str(caught.value) and words in str(caught.value)
    assert "migration.yml" in str(caught.value)

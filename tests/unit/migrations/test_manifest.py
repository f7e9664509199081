"""migration.yml validation: each problem is one error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import (
    load_manifest,
    parse_duration_ms,
    parse_manifest,
)

PATH = Path("/m/2024.002_x/migration.yml")


def test_full_manifest():
    manifest = parse_manifest({
        "description": "convert durations",
        "depends_on": ["2024.001"],
        "phase": "contract",
        "destructive": False,
        "postgres": {"transaction": False, "lock_timeout": "2s", "statement_timeout": 60000},
        "backfill": {"table": "content.courses", "key": ["tenant", "id"], "set": "m = s / 60",
                     "where": "m IS NULL", "batch_size": 500, "pause_ms": 10},
        "validate": {"postgres": "SELECT 1 WHERE false", "mongodb": {"anything": "goes"}},
    }, PATH)
    assert manifest.depends_on == ("2024.001",)
    assert manifest.postgres.transaction == "false"
    assert manifest.postgres.lock_timeout_ms == 2000 and manifest.postgres.statement_timeout_ms == 60000
    [backfill] = manifest.backfill
    assert backfill.name == "content.courses" and backfill.key == ("tenant", "id") and backfill.batch_size == 500
    assert manifest.validate["mongodb"] == {"anything": "goes"}


def test_empty_manifest_gets_defaults():
    manifest = parse_manifest(None, PATH)
    assert manifest.phase == "expand" and manifest.postgres.transaction == "auto" and manifest.backfill == ()


@pytest.mark.parametrize("data, message", [
    ([1, 2], "must be a mapping"),
    ({"descripton": "x"}, "unknown key\\(s\\) descripton"),
    ({"depends_on": [2024.010]}, "quoted string"),
    ({"depends_on": "2024.001", "phase": "shrink"}, "phase must be expand or contract"),
    ({"destructive": "yes"}, "destructive must be true or false"),
    ({"postgres": {"transaction": "maybe"}}, "transaction must be auto, true or false"),
    ({"postgres": {"lock_timeout": "soon"}}, "lock_timeout must be a duration"),
    ({"postgres": {"isolation": "serializable"}}, "postgres: unknown key"),
    ({"backfill": {"table": "t", "key": "id"}}, "'set' is required"),
    ({"backfill": [{"table": "t; drop table x", "key": "id", "set": "a = 1"}]}, "table must be a table name"),
    ({"backfill": [{"table": "t", "key": "id", "set": "a = 1", "batch_size": 0}]}, "batch_size must be a positive"),
    ({"backfill": [{"table": "t", "key": "id", "set": "a = 1"}, {"table": "t", "key": "id", "set": "b = 1"}]},
     "names must be unique"),
    ({"validate": {"postgres": 3}}, "validate.postgres must be an SQL query"),
])
def test_invalid_manifests_are_refused_naming_the_file(data, message):
    with pytest.raises(MigrationFormatError, match=message) as err:
        parse_manifest(data, PATH)
    assert str(PATH) in str(err.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "migration.yml"
    path.write_text("description: ok\ndepends_on: [\n")
    with pytest.raises(MigrationFormatError, match="invalid YAML at line") as err:
        load_manifest(path)
    assert str(path) in str(err.value)


def test_durations():
    assert parse_duration_ms(250, what="x", path=PATH) == 250
    assert parse_duration_ms("1.5s", what="x", path=PATH) == 1500
    assert parse_duration_ms("2min", what="x", path=PATH) == 120000
    with pytest.raises(MigrationFormatError):
        parse_duration_ms(True, what="x", path=PATH)

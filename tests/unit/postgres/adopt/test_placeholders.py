"""Flyway placeholders and repeatable migrations as discovery reads them."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import (
    InvalidParameter,
    RunRequest,
)


def test_placeholders_are_replaced_in_versioned_and_repeatable_files(tmp_path):
    (tmp_path / "V1__init.sql").write_text("CREATE TABLE ${schema}.t (id int); -- ${flyway:filename}\n")
    (tmp_path / "R__view.sql").write_text("CREATE OR REPLACE VIEW ${schema}.v AS SELECT ${n};\n")
    fmt, sets = discover(tmp_path, {"schema": "app", "n": 3})
    assert fmt == "flyway"
    assert [s.version for s in sets] == ["1", "R__view"]  # repeatables after every version
    assert sets[0].postgres.up_sql == "CREATE TABLE app.t (id int); -- V1__init.sql\n"
    assert sets[1].postgres.up_sql == "CREATE OR REPLACE VIEW app.v AS SELECT 3;\n"
    assert sets[1].postgres.down_sql is None


def test_the_versioned_checksum_is_the_file_the_repeatable_one_what_it_runs(tmp_path):
    (tmp_path / "V1__init.sql").write_text("CREATE TABLE ${schema}.t (id int);\n")
    (tmp_path / "R__view.sql").write_text("CREATE OR REPLACE VIEW v AS SELECT '${schema}';\n")
    first = discover(tmp_path, {"schema": "a"})[1]
    second = discover(tmp_path, {"schema": "b"})[1]
    assert first[0].postgres.checksum == second[0].postgres.checksum
    assert first[1].postgres.checksum != second[1].postgres.checksum


def test_an_unknown_placeholder_names_the_file_the_line_and_the_name(tmp_path):
    (tmp_path / "V1__init.sql").write_text("SELECT 1;\nCREATE TABLE ${schema}.t (id int);\n")
    with pytest.raises(MigrationFormatError, match=r"line 2: unknown placeholder \$\{schema\}.*given: other") as exc:
        discover(tmp_path, {"other": "x"})
    assert "V1__init.sql" in str(exc.value)


def test_a_value_holding_a_placeholder_is_not_replaced_again(tmp_path):
    (tmp_path / "V1__init.sql").write_text("SELECT '${a}';\n")
    assert discover(tmp_path, {"a": "${b}"})[1][0].postgres.up_sql == "SELECT '${b}';\n"


def test_a_directory_of_only_repeatables_is_flyway(tmp_path):
    (tmp_path / "R__a.sql").write_text("SELECT 1;\n")
    assert discover(tmp_path)[0] == "flyway"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("adopt", "liquibase", "adopt must be one of auto, flyway, golang-migrate, dbmate, sqitch, none"),
    ("placeholders", ["a"], "placeholders must be a mapping"),
    ("placeholders", {"a b": "x"}, "placeholders must be keyed by names"),
    ("placeholders", {"a": {"nested": 1}}, r"placeholders\['a'\] must be a string or a number, not a dict"),
])
def test_adopt_and_placeholders_are_checked(field, value, message):
    request = RunRequest(migrations_dir="/m", postgres_dsn="dbname=x", **{field: value})
    with pytest.raises(InvalidParameter, match=message):
        request.validated()

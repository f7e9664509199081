"""How flyway_schema_history rows are read: versioned, repeatable, baseline, undo, failed, drift."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway import (
    FlywayRow,
    adopted_from_rows,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway_checksum import flyway_checksum
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptionRefused

FILES = {
    "V1__init.sql": "CREATE TABLE a (id int);\n",
    "V2__more.sql": "CREATE TABLE b (id int);\n",
    "V3__last.sql": "CREATE TABLE c (id int);\n",
    "R__view.sql": "CREATE OR REPLACE VIEW v AS SELECT 1;\n",
}


@pytest.fixture
def sets(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return discover(tmp_path)[1]


def row(rank, version, script, *, kind="SQL", success=True, checksum=None):
    text = FILES.get(script)
    if checksum is None and text is not None:
        checksum = flyway_checksum(text)
    return FlywayRow(rank=rank, version=version, description=script, kind=kind, script=script, checksum=checksum,
                     installed_on="2024-01-01T00:00:00", success=success)


def test_versioned_and_repeatable_rows_with_matching_checksums(sets):
    adopted = adopted_from_rows([row(1, "1", "V1__init.sql"), row(2, "2", "V2__more.sql"),
                                 row(3, None, "R__view.sql")], sets)
    assert [(a.version, a.matches_file) for a in adopted] == [("1", True), ("2", True), ("R__view", True)]
    assert adopted[0].tool_checksum == str(flyway_checksum(FILES["V1__init.sql"]))


def test_a_changed_file_does_not_match(sets):
    adopted = adopted_from_rows([row(1, "1", "V1__init.sql", checksum=12345)], sets)
    assert adopted[0].matches_file is False


def test_a_failed_row_refuses_naming_the_version_and_repair(sets):
    with pytest.raises(AdoptionRefused, match=r"version 2 \(V2__more.sql\) as failed.*flyway repair"):
        adopted_from_rows([row(1, "1", "V1__init.sql"), row(2, "2", "V2__more.sql", success=False)], sets)


def test_a_failed_repeatable_refuses_too(sets):
    with pytest.raises(AdoptionRefused, match="repeatable R__view"):
        adopted_from_rows([row(1, None, "R__view.sql", success=False)], sets)


def test_a_baseline_row_covers_every_version_up_to_it(sets):
    adopted = adopted_from_rows([row(1, "2", "<< Flyway Baseline >>", kind="BASELINE"),
                                 row(2, "3", "V3__last.sql")], sets)
    assert [a.version for a in adopted] == ["1", "2", "3"]
    assert adopted[0].matches_file is None  # a baseline keeps no checksum


def test_an_undo_row_takes_the_version_away(sets):
    adopted = adopted_from_rows([row(1, "1", "V1__init.sql"), row(2, "2", "V2__more.sql"),
                                 row(3, "2", "U2__more.sql", kind="UNDO_SQL")], sets)
    assert [a.version for a in adopted] == ["1"]


def test_schema_rows_are_ignored_and_unknown_versions_kept_for_the_report(sets):
    adopted = adopted_from_rows([row(0, None, '"public"', kind="SCHEMA"), row(1, "7", "V7__gone.sql")], sets)
    assert [(a.version, a.matches_file) for a in adopted] == [("7", None)]

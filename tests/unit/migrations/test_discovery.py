"""Finding sets on disk: native layout and the adopted formats, detected automatically."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover


def _native(root, name, files):
    directory = root / name
    directory.mkdir()
    for file, text in files.items():
        (directory / file).write_text(text)
    return directory


def test_native_sets_in_natural_order_with_parts_and_checksums(tmp_path):
    _native(tmp_path, "2024.010_c", {"postgres.up.sql": "SELECT 3;"})
    _native(tmp_path, "2024.002_b", {"mongodb.yml": "operations: []\n"})
    _native(tmp_path, "2024.001_a", {"postgres.up.sql": "SELECT 1;", "postgres.down.sql": "SELECT 0;",
                                     "mongodb.py": "def up(db, ctx):\n    pass\n", "README.md": "notes"})
    (tmp_path / "README.md").write_text("ignored")
    fmt, sets = discover(tmp_path)
    assert fmt == "native"
    assert [s.version for s in sets] == ["2024.001", "2024.002", "2024.010"]
    first = sets[0]
    assert first.slug == "a" and first.parts() == ["postgres", "mongodb"]
    assert first.mongodb.kind == "python" and first.postgres.down_sql == "SELECT 0;"
    assert sets[1].postgres is None and sets[1].mongodb.kind == "yaml"
    assert len(first.postgres.checksum) == 64


def test_checksum_changes_with_any_file_of_the_part(tmp_path):
    directory = _native(tmp_path, "1_a", {"postgres.up.sql": "SELECT 1;", "postgres.down.sql": "SELECT 0;"})
    before = discover(tmp_path)[1][0].postgres.checksum
    (directory / "postgres.down.sql").write_text("SELECT 00;")
    assert discover(tmp_path)[1][0].postgres.checksum != before


@pytest.mark.parametrize("files, message", [
    ({"postgres.sql": "SELECT 1;"}, "unexpected file postgres.sql"),
    ({"mongodb.yml": "", "mongodb.py": ""}, "more than one MongoDB part"),
    ({"migration.yml": "description: only metadata\n"}, "the set has no part"),
    ({"postgres.down.sql": "SELECT 1;"}, "without postgres.up.sql"),
    ({"postgres.up.sql": "SELECT 1;", "postgres.verify.sql": "SELECT 1 WHERE false",
      "migration.yml": "validate: {postgres: SELECT 1}\n"}, "both given"),
])
def test_bad_native_sets_are_named(tmp_path, files, message):
    _native(tmp_path, "2024.001_a", files)
    with pytest.raises(MigrationFormatError, match=message) as err:
        discover(tmp_path)
    assert err.value.version == "2024.001"


def test_bad_directory_names_and_duplicate_versions(tmp_path):
    _native(tmp_path, "001_a", {"postgres.up.sql": "SELECT 1;"})
    _native(tmp_path, "1_b", {"postgres.up.sql": "SELECT 1;"})
    with pytest.raises(MigrationFormatError, match="also used by"):
        discover(tmp_path)
    (tmp_path / "1_b" / "postgres.up.sql").unlink()
    (tmp_path / "1_b").rmdir()
    _native(tmp_path, "add-users", {"postgres.up.sql": "SELECT 1;"})
    with pytest.raises(MigrationFormatError, match="<version>_<slug>"):
        discover(tmp_path)


def test_version_zero_is_reserved(tmp_path):
    _native(tmp_path, "0_a", {"postgres.up.sql": "SELECT 1;"})
    with pytest.raises(MigrationFormatError, match="reserved"):
        discover(tmp_path)


def test_golang_migrate(tmp_path):
    (tmp_path / "000002_b.up.sql").write_text("SELECT 2;")
    (tmp_path / "000001_a.up.sql").write_text("SELECT 1;")
    (tmp_path / "000001_a.down.sql").write_text("SELECT -1;")
    fmt, sets = discover(tmp_path)
    assert fmt == "golang-migrate" and [s.version for s in sets] == ["000001", "000002"]
    assert sets[0].postgres.down_sql == "SELECT -1;" and sets[1].postgres.down_sql is None
    (tmp_path / "000003_c.down.sql").write_text("SELECT 3;")
    with pytest.raises(MigrationFormatError, match="down file without an up file"):
        discover(tmp_path)


def test_flyway(tmp_path):
    (tmp_path / "V1__init.sql").write_text("SELECT 1;")
    (tmp_path / "V1_2__more.sql").write_text("SELECT 2;")
    (tmp_path / "U1_2__more.sql").write_text("SELECT -2;")
    (tmp_path / "V12__last.sql").write_text("SELECT 12;")
    fmt, sets = discover(tmp_path)
    assert fmt == "flyway" and [s.version for s in sets] == ["1", "1.2", "12"]
    assert sets[1].postgres.down_sql == "SELECT -2;"
    # Repeatable migrations are sets of their own, after every version (see tests/unit/postgres/adopt).
    (tmp_path / "R__views.sql").write_text("SELECT 0;")
    assert [s.version for s in discover(tmp_path)[1]] == ["1", "1.2", "12", "R__views"]


def test_dbmate(tmp_path):
    (tmp_path / "20240101000000_a.sql").write_text(
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- migrate:down\nDROP INDEX i;\n")
    (tmp_path / "20240102000000_b.sql").write_text("-- migrate:up\nSELECT 1;\n-- migrate:down\n-- nothing\n")
    fmt, sets = discover(tmp_path)
    assert fmt == "dbmate"
    assert sets[0].postgres.options.transaction == "false"
    assert sets[0].postgres.up_sql.strip() == "CREATE INDEX CONCURRENTLY i ON t (a);"
    assert sets[0].postgres.down_sql.strip() == "DROP INDEX i;"
    assert sets[1].postgres.down_sql is None


def test_mixed_and_unknown_layouts(tmp_path):
    _native(tmp_path, "1_a", {"postgres.up.sql": "SELECT 1;"})
    (tmp_path / "2_b.up.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationFormatError, match="mixes"):
        discover(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    assert discover(other) == ("empty", [])
    (other / "schema.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationFormatError, match="cannot tell the migration format"):
        discover(other)
    with pytest.raises(MigrationFormatError, match="does not exist"):
        discover(tmp_path / "missing")

"""Odd input on disk gets a message naming the file and the oddity; nothing outside migrations_dir is ever read."""

from __future__ import annotations

import codecs
import os

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import parse_duration_ms

SECRET = "CREATE ROLE outside PASSWORD 'do-not-read-me';"


@pytest.fixture
def root(tmp_path):
    directory = tmp_path / "migrations"
    directory.mkdir()
    return directory


@pytest.fixture
def outside(tmp_path):
    """A directory next to migrations_dir with a set-like content nobody may read."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    (directory / "postgres.up.sql").write_text(SECRET)
    return directory


def _set(root, name, files):
    directory = root / name
    directory.mkdir()
    for file, content in files.items():
        path = directory / file
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return directory


def _refused(root, *, match):
    with pytest.raises(MigrationFormatError, match=match) as err:
        discover(root)
    assert "do-not-read-me" not in str(err.value)
    return err.value


# ---- symbolic links ------------------------------------------------------------------------------------------------

def test_symlinked_file_leading_outside_is_refused_by_name(root, outside):
    directory = _set(root, "1_a", {})
    (directory / "postgres.up.sql").symlink_to(outside / "postgres.up.sql")
    error = _refused(root, match="symbolic link to a place outside migrations_dir")
    assert error.path == str(directory / "postgres.up.sql") and str(outside) not in str(error)


def test_symlinked_set_directory_leading_outside_is_refused_by_name(root, outside):
    (root / "1_a").symlink_to(outside, target_is_directory=True)
    error = _refused(root, match="symbolic link to a place outside migrations_dir")
    assert error.path == str(root / "1_a")


def test_symlinked_adopted_file_leading_outside_is_refused(root, outside):
    (root / "000001_a.up.sql").symlink_to(outside / "postgres.up.sql")
    _refused(root, match="outside migrations_dir")


def test_relative_link_climbing_out_is_refused(root, outside):
    directory = _set(root, "1_a", {})
    (directory / "postgres.up.sql").symlink_to(os.path.join("..", "..", "elsewhere", "postgres.up.sql"))
    _refused(root, match="outside migrations_dir")


def test_dangling_link_is_named(root):
    directory = _set(root, "1_a", {"postgres.up.sql": "SELECT 1;"})
    (directory / "postgres.down.sql").symlink_to(root / "nothing-here.sql")
    error = _refused(root, match="leads nowhere")
    assert error.path.endswith("postgres.down.sql")


def test_links_that_stay_inside_are_followed(root):
    shared = root / "_shared"
    shared.mkdir()
    (shared / "down.sql").write_text("DROP TABLE t;")
    first = _set(root, "1_a", {"postgres.up.sql": "CREATE TABLE t (id int);"})
    (first / "postgres.down.sql").symlink_to(shared / "down.sql")
    (root / "2_b").symlink_to(first, target_is_directory=True)  # a set directory linked to another, inside
    fmt, sets = discover(root)
    assert fmt == "native" and [s.version for s in sets] == ["1", "2"]
    assert sets[0].postgres.down_sql == "DROP TABLE t;"


def test_migrations_dir_itself_may_be_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    _set(real, "1_a", {"postgres.up.sql": "SELECT 1;"})
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert [s.version for s in discover(link)[1]] == ["1"]


# ---- encodings -----------------------------------------------------------------------------------------------------

def test_utf8_bom_is_stripped_and_the_checksum_does_not_see_it(tmp_path):
    plain_root, bom_root = tmp_path / "plain", tmp_path / "bom"
    plain_root.mkdir()
    bom_root.mkdir()
    sql = "CREATE TABLE t (id int);\n"
    _set(plain_root, "1_a", {"postgres.up.sql": sql, "migration.yml": "description: a\n"})
    _set(bom_root, "1_a", {"postgres.up.sql": codecs.BOM_UTF8 + sql.encode(),
                           "migration.yml": codecs.BOM_UTF8 + b"description: a\n"})
    plain, bom = discover(plain_root)[1][0], discover(bom_root)[1][0]
    assert bom.postgres.up_sql == sql and bom.manifest.description == "a"
    assert bom.postgres.checksum == plain.postgres.checksum


def test_bom_in_a_mongodb_part_is_stripped(root):
    _set(root, "1_a", {"mongodb.yml": codecs.BOM_UTF8 + b"operations: []\n"})
    assert discover(root)[1][0].mongodb.source == "operations: []\n"


@pytest.mark.parametrize("file", ["postgres.up.sql", "postgres.down.sql", "mongodb.py", "migration.yml"])
def test_invalid_utf8_names_file_and_byte_offset(root, file):
    files = {"postgres.up.sql": "SELECT 1;"}
    files[file] = b"-- caf\xe9 is Latin-1\nSELECT 1;\n" if file != "migration.yml" else b"description: caf\xe9\n"
    directory = _set(root, "1_a", files)
    offset = files[file].index(b"\xe9")
    error = _refused(root, match=rf"is not valid UTF-8: byte 0xe9 at byte offset {offset} \(line 1\)")
    assert error.path == str(directory / file)


def test_offset_counts_the_bom_and_lines(root):
    _set(root, "1_a", {"postgres.up.sql": codecs.BOM_UTF8 + b"SELECT 1;\nSELECT '\xff';\n"})
    _refused(root, match=r"byte 0xff at byte offset 21 \(line 2\)")


def test_utf16_is_named(root):
    _set(root, "1_a", {"postgres.up.sql": "SELECT 1;".encode("utf-16")})
    _refused(root, match="is UTF-16")


# ---- empty parts ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   \n\t\n", "-- nothing yet\n", "/* todo */\n-- later\n", ";\n"])
def test_empty_postgres_part_is_refused_naming_the_file(root, text):
    directory = _set(root, "1_a", {"postgres.up.sql": text})
    error = _refused(root, match="has no SQL")
    assert error.path == str(directory / "postgres.up.sql") and error.version == "1"


@pytest.mark.parametrize("name", ["000001_a.up.sql", "V1__a.sql"])
def test_empty_adopted_up_file_is_refused(root, name):
    (root / name).write_text("-- written by the tool, never filled in\n")
    error = _refused(root, match="has no SQL")
    assert error.path == str(root / name)


def test_empty_dbmate_up_section_is_refused(root):
    (root / "20240101000000_a.sql").write_text("-- migrate:up\n\n-- migrate:down\nDROP TABLE t;\n")
    _refused(root, match="has no SQL")


def test_empty_mongodb_part_is_refused(root):
    directory = _set(root, "1_a", {"mongodb.yml": "\n  \n"})
    error = _refused(root, match="is empty")
    assert error.path == str(directory / "mongodb.yml")


def test_backfill_only_set_needs_no_up_file(root):
    _set(root, "1_a", {"migration.yml": "backfill: {table: t, key: id, set: 'a = 1'}\n"})
    assert discover(root)[1][0].postgres.backfill


# ---- versions ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "oddity"), [
    ("２０２４_fullwidth", "U+FF12"), ("١٢_arabic_indic", "U+0661"), ("1..2_double_dot", "empty group"),
    ("1._trailing_dot", "starts or ends with a dot"), ("2024.1._two_groups_then_a_dot", "ends with a dot"),
    ("1a_letter", "'a' (U+0061)"),
])
def test_odd_versions_are_refused_naming_the_directory(root, name, oddity):
    # (a leading dot makes a hidden directory, which discovery leaves alone, as it always did)
    _set(root, name, {"postgres.up.sql": "SELECT 1;"})
    error = _refused(root, match="a version is ASCII digits in dot-separated groups")
    assert oddity in error.message and error.path == str(root / name)


def test_unicode_digits_in_adopted_file_names_are_not_versions(root):
    (root / "００１_a.up.sql").write_text("SELECT 1;")
    _refused(root, match="not a golang-migrate file name")


# ---- durations in migration.yml ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, "99999999999h", "1e9s", "５s", True, [1]])
def test_manifest_durations_out_of_range_or_odd_are_named(tmp_path, value):
    with pytest.raises(MigrationFormatError, match="postgres.lock_timeout must be"):
        parse_duration_ms(value, what="postgres.lock_timeout", path=tmp_path / "migration.yml")

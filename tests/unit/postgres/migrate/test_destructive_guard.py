"""What counts as destroying data."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import sql_splitter
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.destructive_guard import (
    canonical_type,
    find_destructive,
    is_widening,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import split_statements


@pytest.fixture(params=["pglast", "tokenizer"])
def parser(request, monkeypatch):
    if request.param == "tokenizer":
        monkeypatch.setattr(sql_splitter, "pglast", None)
    return request.param


@pytest.mark.parametrize("sql, what", [
    ("DROP TABLE IF EXISTS content.old", "DROP TABLE"),
    ("DROP SCHEMA legacy CASCADE", "DROP SCHEMA"),
    ("ALTER TABLE auth.users DROP COLUMN bio", "DROP COLUMN"),
    ("TRUNCATE analytics.events", "TRUNCATE"),
    ("DELETE FROM auth.sessions", "DELETE without WHERE"),
    ("DROP DATABASE other", "DROP DATABASE"),
])
def test_destructive_statements(parser, sql, what):
    [finding] = find_destructive(split_statements(sql))
    assert finding.what.startswith(what)


@pytest.mark.parametrize("sql", [
    "DROP INDEX CONCURRENTLY i", "DROP VIEW v", "ALTER TABLE t DROP CONSTRAINT c", "DELETE FROM t WHERE id < 0",
    "CREATE TABLE t (id int)", "SELECT 'DROP TABLE x'", "ALTER TABLE t ADD COLUMN c int",
])
def test_harmless_statements(parser, sql):
    assert find_destructive(split_statements(sql)) == []


def test_type_change_uses_the_current_type():
    statements = split_statements("ALTER TABLE s.t ALTER COLUMN a TYPE integer, ALTER COLUMN b TYPE varchar(200)")
    current = {"a": canonical_type("int8"), "b": canonical_type("varchar", (100,))}
    findings = find_destructive(statements, lambda schema, table, column: current.get(column))
    assert [f.what for f in findings] == ["narrowing type change of s.t.a from int8 to int4"]
    warnings = []
    assert find_destructive(statements, lambda *_: None, warnings) == []
    assert len(warnings) == 2 and "does not exist yet" in warnings[0]


@pytest.mark.parametrize("old, new, widening", [
    (("int2",), ("int8",), True), (("int8",), ("int4",), False), (("int4",), ("numeric",), True),
    (("int8",), ("numeric", (10, 0)), False), (("numeric", (10, 2)), ("numeric", (12, 2)), True),
    (("numeric", (10, 2)), ("numeric", (10, 0)), False), (("numeric",), ("numeric", (30, 5)), False),
    (("varchar", (10,)), ("varchar", (20,)), True), (("varchar", (20,)), ("varchar", (10,)), False),
    (("text",), ("varchar", (255,)), False), (("varchar", (20,)), ("text",), True), (("int4",), ("text",), True),
    (("timestamp",), ("timestamptz",), True), (("timestamptz",), ("date",), False), (("float4",), ("float8",), True),
    (("float8",), ("float4",), False), (("json",), ("jsonb",), True), (("text",), ("int4",), False),
])
def test_widening(old, new, widening):
    assert is_widening(canonical_type(*old), canonical_type(*new)) is widening


def test_type_aliases():
    assert canonical_type("pg_catalog.int4") == canonical_type("integer")
    assert canonical_type("character varying", (5,)) == canonical_type("varchar", (5,))

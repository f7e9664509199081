"""Splitting SQL into statements and telling which cannot run in a transaction block."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import sql_splitter
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
    classify_text,
    split_statements,
)

TRICKY = """
-- a comment; with a semicolon
CREATE TABLE t (a text DEFAULT 'x;y', "odd;name" int);  /* block; /* nested; */ comment */
INSERT INTO t (a) VALUES ('it''s; fine'), (E'back\\\\slash\\'; still string');
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN 1; -- inside dollar quotes
END;
$fn$;
DO $$ BEGIN PERFORM 1; END $$;
CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE 2 END; SELECT 2; END;
SELECT $tag$ $$ ; $tag$ AS dollar_in_dollar
"""


@pytest.fixture(params=["pglast", "tokenizer"])
def splitter(request, monkeypatch):
    if request.param == "tokenizer":
        monkeypatch.setattr(sql_splitter, "pglast", None)
    return split_statements


def test_tricky_text_is_split_at_top_level_semicolons_only(splitter):
    statements = splitter(TRICKY)
    assert len(statements) == 6
    assert statements[0].sql.endswith("\"odd;name\" int)")
    assert "it''s; fine" in statements[1].sql
    assert statements[2].sql.rstrip().endswith("$fn$")
    assert statements[4].sql.startswith("CREATE FUNCTION g()") and statements[4].sql.endswith("END")
    assert statements[5].sql.startswith("SELECT $tag$")
    assert [s.index for s in statements] == list(range(1, 7))
    assert statements[1].line == 4
    assert all(s.transactional for s in statements)


NON_TRANSACTIONAL = {
    "CREATE INDEX CONCURRENTLY i ON t (a)": "CREATE INDEX CONCURRENTLY",
    "create unique index concurrently if not exists i on t (a)": "CREATE INDEX CONCURRENTLY",
    "DROP INDEX CONCURRENTLY IF EXISTS i": "DROP INDEX CONCURRENTLY",
    "REINDEX INDEX CONCURRENTLY i": "REINDEX CONCURRENTLY",
    "REINDEX (VERBOSE, CONCURRENTLY) TABLE t": "REINDEX CONCURRENTLY",
    "VACUUM (ANALYZE) t": "VACUUM",
    "ALTER TYPE mood ADD VALUE 'great'": "ALTER TYPE ... ADD VALUE",
    "CREATE DATABASE other": "CREATE DATABASE",
    "ALTER SYSTEM SET work_mem = '8MB'": "ALTER SYSTEM",
}
TRANSACTIONAL = [
    "CREATE INDEX i ON t (a)", "REINDEX INDEX i", "ANALYZE t", "ALTER TYPE mood RENAME VALUE 'a' TO 'b'",
    "SELECT 'CREATE INDEX CONCURRENTLY x'", "-- VACUUM\nSELECT 1", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
]


@pytest.mark.parametrize("sql", sorted(NON_TRANSACTIONAL))
def test_non_transactional_statements_are_detected(splitter, sql):
    [stmt] = splitter(sql + ";")
    assert not stmt.transactional and stmt.reason == NON_TRANSACTIONAL[sql]


@pytest.mark.parametrize("sql", TRANSACTIONAL)
def test_transactional_statements(splitter, sql):
    [stmt] = splitter(sql)
    assert stmt.transactional and stmt.reason is None


def test_transaction_control_is_flagged(splitter):
    statements = splitter("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;")
    assert [s.transaction_control for s in statements] == [True, False, True]


def test_syntax_error_falls_back_to_the_tokenizer():
    statements = split_statements("CREATE TABLE a (id int);\nCREAT TABLE oops;\nCREATE INDEX CONCURRENTLY i ON a (id);")
    assert [s.sql for s in statements] == ["CREATE TABLE a (id int)", "CREAT TABLE oops",
                                           "CREATE INDEX CONCURRENTLY i ON a (id)"]
    assert statements[2].node is None and statements[2].reason == "CREATE INDEX CONCURRENTLY"


def test_comment_only_and_empty_text_have_no_statements(splitter):
    assert splitter("") == []
    assert splitter("-- nothing here\n/* nor here */\n") == []


def test_multibyte_text_keeps_statement_boundaries(splitter):
    statements = splitter("INSERT INTO t VALUES ('héllo; wörld ✓');\nSELECT 'ok';")
    assert [s.sql for s in statements] == ["INSERT INTO t VALUES ('héllo; wörld ✓')", "SELECT 'ok'"]


def test_classify_text_ignores_leading_comments():
    assert classify_text("/* x */ -- y\n  vacuum t")[1] == "VACUUM"

"""Splitting is linear in the file's size: a generated ~50 MB migration file splits within seconds, both paths."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import sql_splitter
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import split_statements

TARGET_CHARS = 50 * 1024 * 1024
LINES_PER_BLOCK = 9
STATEMENTS_PER_BLOCK = 3


def _block(i: int) -> str:
    """Nine lines, three statements: comments and literals holding semicolons, a dollar-quoted body, non-ASCII."""
    return (f"-- step {i}; a comment with a semicolon\n"
            f"INSERT INTO items (id, note) VALUES ({i}, 'it''s; {i} é'), ({i}, E'esc\\'; x');\n"
            f"CREATE FUNCTION f_{i}() RETURNS int LANGUAGE plpgsql AS $body$\n"
            "BEGIN\n"
            f"  RETURN {i}; /* in; body */\n"
            "END;\n"
            "$body$;\n"
            f"/* block /* nested; */ comment */\n"
            f"UPDATE items SET note = 'x' WHERE id = {i};\n")


@pytest.fixture(scope="module")
def huge_file() -> tuple[str, int]:
    blocks = []
    size = 0
    while size < TARGET_CHARS:
        block = _block(len(blocks))
        blocks.append(block)
        size += len(block)
    return "".join(blocks), len(blocks)


@pytest.fixture(params=["pglast", "tokenizer"])
def splitter_path(request, monkeypatch):
    if request.param == "tokenizer":
        monkeypatch.setattr(sql_splitter, "pglast", None)
    elif sql_splitter.pglast is None:
        pytest.skip("pglast is not installed")
    return request.param


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_50_mb_file_splits_in_linear_time(huge_file, splitter_path):
    text, blocks = huge_file
    statements = split_statements(text)
    assert len(statements) == blocks * STATEMENTS_PER_BLOCK
    for block in (0, 1, blocks // 2, blocks - 1):
        insert, function, update = statements[block * 3: block * 3 + 3]
        first_line = block * LINES_PER_BLOCK + 1
        assert insert.line == first_line + 1 and f"INSERT INTO items (id, note) VALUES ({block}," in insert.sql
        assert function.line == first_line + 2 and function.sql.endswith("$body$")
        assert update.line == first_line + 8 and update.sql.endswith(f"UPDATE items SET note = 'x' WHERE id = {block}")
        assert insert.index == block * 3 + 1
    # The parser's statements start at their first token; the tokenizer's keep their leading comments.
    assert (statements[0].node is not None) == (splitter_path == "pglast")


def test_files_above_the_parser_limit_take_the_tokenizer(monkeypatch):
    if sql_splitter.pglast is None:
        pytest.skip("pglast is not installed")
    monkeypatch.setattr(sql_splitter, "PARSER_MAX_CHARS", 10)
    [stmt] = split_statements("CREATE INDEX CONCURRENTLY i ON t (a);")
    assert stmt.node is None and stmt.reason == "CREATE INDEX CONCURRENTLY"

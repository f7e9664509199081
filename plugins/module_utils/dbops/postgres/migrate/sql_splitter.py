"""Splitting SQL files into statements and classifying them (transactional or not, transaction control).

The PostgreSQL parser (pglast, libpg_query) is used where it parses the file. When it cannot (pglast missing, a
syntax error PostgreSQL will report itself, newer syntax), a careful tokenizer splits the text: comments (nested
block comments too), string literals ('', E'' with backslashes), quoted identifiers, dollar quoting and
BEGIN ATOMIC function bodies never split a statement.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import re
from dataclasses import dataclass
from typing import Any

try:
    import pglast
    from pglast.parser import parse_sql_json
except ImportError:  # pragma: no cover - ansible-test's import sanity runs without pglast
    pglast = None  # type: ignore[assignment]
    parse_sql_json = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a file."""

    sql: str  # the statement's text, without the terminating semicolon
    index: int  # 1-based position among the file's statements (transaction control included)
    line: int  # line where the statement starts in the file
    transactional: bool  # False: PostgreSQL refuses to run it inside a transaction block
    reason: str | None = None  # why it is not transactional, e.g. "CREATE INDEX CONCURRENTLY"
    transaction_control: bool = False  # BEGIN/COMMIT/ROLLBACK written in the file
    # The parse tree when the parser was used, as libpg_query's JSON: {"IndexStmt": {"concurrent": true, ...}}.
    # (JSON is ~10x faster to get than pglast's node objects, which matters for hundreds of small sets.)
    node: dict[str, Any] | None = None

    @property
    def node_type(self) -> str | None:
        return next(iter(self.node)) if self.node else None

    @property
    def node_body(self) -> dict[str, Any]:
        return next(iter(self.node.values())) if self.node else {}


# ---- tokenizer fallback ------------------------------------------------------------------------------------------
# One scanner serves splitting, comment stripping and finding a statement's first token. It jumps from one
# interesting token to the next with regex searches (C speed), so a 50 MB file costs seconds, not a Python loop
# over every character.

_DOLLAR_TAG = r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$"
# Comment starts, quotes, dollar tags, semicolons and the few words that matter for BEGIN ATOMIC bodies. A dollar
# tag or word glued to a preceding identifier character is part of that identifier.
_INTERESTING = re.compile(
    r"--|/\*|'|\"|;|(?<![\w$])" + _DOLLAR_TAG + r"|(?<![\w$])(?:BEGIN|ATOMIC|CASE|END)(?![\w$])", re.IGNORECASE)
_BLOCK_COMMENT_EDGE = re.compile(r"/\*|\*/")
_STANDARD_STRING_REST = re.compile(r"[^']*(?:''[^']*)*'")
_ESCAPE_STRING_REST = re.compile(r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*'", re.DOTALL)
_QUOTED_NAME_REST = re.compile(r'[^"]*(?:""[^"]*)*"')
_SPACE = re.compile(r"\s*")

COMMENT, LITERAL, SEMICOLON, WORD = "comment", "literal", "semicolon", "word"


@dataclass(frozen=True)
class _Token:
    kind: str
    start: int
    end: int


def _block_comment_end(text: str, start: int) -> int:
    """End of the (nested) block comment opening at start; the end of the text when it is not closed."""
    depth = 0
    pos = start
    while True:
        edge = _BLOCK_COMMENT_EDGE.search(text, pos)
        if edge is None:
            return len(text)
        depth += 1 if edge.group(0) == "/*" else -1
        pos = edge.end()
        if depth == 0:
            return pos


def _rest_end(pattern: re.Pattern, text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() if match else len(text)


def _is_escape_string(text: str, quote: int) -> bool:
    """E'...' takes backslash escapes; the E must not end a longer identifier."""
    return (quote > 0 and text[quote - 1] in "eE"
            and (quote < 2 or not (text[quote - 2].isalnum() or text[quote - 2] == "_")))


def _tokens(text: str, pos: int = 0):
    """Comments, literals (strings, quoted names, dollar-quoted bodies), semicolons and BEGIN/ATOMIC/CASE/END."""
    n = len(text)
    while pos < n:
        match = _INTERESTING.search(text, pos)
        if match is None:
            return
        start, lexeme = match.start(), match.group(0)
        if lexeme == "--":
            newline = text.find("\n", start)
            token = _Token(COMMENT, start, n if newline < 0 else newline + 1)
        elif lexeme == "/*":
            token = _Token(COMMENT, start, _block_comment_end(text, start))
        elif lexeme == "'":
            rest = _ESCAPE_STRING_REST if _is_escape_string(text, start) else _STANDARD_STRING_REST
            token = _Token(LITERAL, start, _rest_end(rest, text, start + 1))
        elif lexeme == '"':
            token = _Token(LITERAL, start, _rest_end(_QUOTED_NAME_REST, text, start + 1))
        elif lexeme == ";":
            token = _Token(SEMICOLON, start, start + 1)
        elif lexeme.startswith("$"):
            closing = text.find(lexeme, match.end())
            token = _Token(LITERAL, start, n if closing < 0 else closing + len(lexeme))
        else:
            token = _Token(WORD, start, match.end())
        yield token
        pos = token.end


def _split_with_tokenizer(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each statement, cut at top-level semicolons."""
    spans = []
    start = 0
    atomic_depth = 0  # inside BEGIN ATOMIC ... END (SQL-standard function body): ';' does not end the statement
    case_depth = 0  # CASE ... END inside such a body must not close it
    begin_end: int | None = None  # where the last BEGIN ended, to tell BEGIN ATOMIC from BEGIN ... ATOMIC
    for token in _tokens(text):
        if token.kind == SEMICOLON and not atomic_depth:
            spans.append((start, token.start))
            start = token.end
        elif token.kind == WORD:
            word = text[token.start:token.end].upper()
            if word == "BEGIN":
                begin_end = token.end
            elif word == "ATOMIC" and begin_end is not None and _first_token_offset(text, begin_end) == token.start:
                atomic_depth += 1
            elif atomic_depth and word == "CASE":
                case_depth += 1
            elif atomic_depth and word == "END":
                if case_depth:
                    case_depth -= 1
                else:
                    atomic_depth -= 1
    spans.append((start, len(text)))
    return spans


def _first_token_offset(text: str, offset: int) -> int:
    """Offset of the first character after offset that is neither whitespace nor inside a comment."""
    n = len(text)
    while True:
        space = _SPACE.match(text, offset)
        offset = space.end() if space else offset  # \s* always matches; the else only satisfies the type
        if text.startswith("--", offset):
            newline = text.find("\n", offset)
            offset = n if newline < 0 else newline + 1
        elif text.startswith("/*", offset):
            offset = _block_comment_end(text, offset)
        else:
            return offset


def strip_comments(sql: str) -> str:
    """The statement without comments, whitespace collapsed (for keyword matching in the fallback)."""
    out = []
    pos = 0
    for token in _tokens(sql):
        if token.kind == COMMENT:
            out.append(sql[pos:token.start])
            out.append(" ")
            pos = token.end
    out.append(sql[pos:])
    return " ".join("".join(out).split())


def _has_sql(text: str) -> bool:
    return _first_token_offset(text, 0) < len(text)


# ---- classification ----------------------------------------------------------------------------------------------

_FALLBACK_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", re.I), "CREATE INDEX CONCURRENTLY"),
    (re.compile(r"^DROP\s+INDEX\s+CONCURRENTLY\b", re.I), "DROP INDEX CONCURRENTLY"),
    (re.compile(r"^REINDEX\s+(\([^)]*\bCONCURRENTLY\b[^)]*\)|(INDEX|TABLE|SCHEMA|DATABASE|SYSTEM)\s+CONCURRENTLY\b)",
                re.I), "REINDEX CONCURRENTLY"),
    (re.compile(r"^VACUUM\b", re.I), "VACUUM"),
    (re.compile(r"^ALTER\s+TYPE\s+\S+\s+ADD\s+VALUE\b", re.I), "ALTER TYPE ... ADD VALUE"),
    (re.compile(r"^CREATE\s+DATABASE\b", re.I), "CREATE DATABASE"),
    (re.compile(r"^DROP\s+DATABASE\b", re.I), "DROP DATABASE"),
    (re.compile(r"^ALTER\s+SYSTEM\b", re.I), "ALTER SYSTEM"),
    (re.compile(r"^(CREATE|DROP)\s+TABLESPACE\b", re.I), "CREATE/DROP TABLESPACE"),
    (re.compile(r"^(CREATE|ALTER|DROP)\s+SUBSCRIPTION\b", re.I), "SUBSCRIPTION"),
]
_TXN_CONTROL = re.compile(r"^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b(?!\s+ATOMIC)", re.I)


def _classify_node(name: str, node: dict[str, Any]) -> tuple[bool, str | None, bool]:
    """(transactional, reason, transaction_control) from a parse tree node (libpg_query JSON)."""
    if name == "TransactionStmt":
        return True, None, True
    if name == "IndexStmt" and node.get("concurrent"):
        return False, "CREATE INDEX CONCURRENTLY", False
    if name == "DropStmt" and node.get("concurrent"):
        return False, "DROP INDEX CONCURRENTLY", False
    if name == "ReindexStmt" and any(p.get("DefElem", {}).get("defname") == "concurrently"
                                     for p in node.get("params", ())):
        return False, "REINDEX CONCURRENTLY", False
    if name == "VacuumStmt" and node.get("is_vacuumcmd"):
        return False, "VACUUM", False
    if name == "AlterEnumStmt" and node.get("newVal") is not None and node.get("oldVal") is None:
        # Allowed in a transaction since PostgreSQL 12, but the new value cannot be used before commit.
        return False, "ALTER TYPE ... ADD VALUE", False
    special = {
        "CreatedbStmt": "CREATE DATABASE", "DropdbStmt": "DROP DATABASE", "AlterSystemStmt": "ALTER SYSTEM",
        "CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
        "CreateSubscriptionStmt": "CREATE SUBSCRIPTION", "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
        "DropSubscriptionStmt": "DROP SUBSCRIPTION",
    }
    if name in special:
        return False, special[name], False
    return True, None, False


def classify_text(sql: str) -> tuple[bool, str | None, bool]:
    """(transactional, reason, transaction_control) from the statement's text (fallback)."""
    text = strip_comments(sql)
    if _TXN_CONTROL.match(text):
        return True, None, True
    for pattern, reason in _FALLBACK_RULES:
        if pattern.match(text):
            return False, reason, False
    return True, None, False


class _LineIndex:
    """Line numbers of offsets in one text: line starts found once, then a binary search per offset."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of_statement(self, offset: int) -> int:
        """Line of the statement's first token (after leading comments), for messages."""
        return bisect.bisect_right(self._starts, _first_token_offset(self._text, offset))


def _trimmed(text: str, start: int, end: int) -> tuple[str, int]:
    """The span without surrounding whitespace, and the offset where it starts."""
    chunk = text[start:end]
    stripped = chunk.lstrip()
    return stripped.rstrip(), start + (len(chunk) - len(stripped))


class _CharOffsets:
    """Character offsets of libpg_query's UTF-8 byte offsets, for offsets that only grow (statements in order).

    Each call decodes only the bytes since the previous one, so a whole file costs one pass.
    """

    def __init__(self, text: str) -> None:
        self._ascii = text.isascii()
        self._data = b"" if self._ascii else text.encode("utf-8")
        self._byte = 0
        self._char = 0

    def of(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        self._char += len(self._data[self._byte:byte_offset].decode("utf-8"))
        self._byte = byte_offset
        return self._char


# Above this size the tokenizer splits the file even when pglast is available. Parsing is linear (a 50 MB file:
# about 8 s, as long as the tokenizer), but libpg_query's JSON tree and its Python copy take about 8 times the
# text's size in memory; beyond this size that is the host's problem, and such files are generated data loads
# where the tokenizer's text rules (transaction control, CONCURRENTLY, ...) are enough.
PARSER_MAX_CHARS = 64 * 1024 * 1024


def _parse_with_pglast(text: str) -> list[tuple[int, int, dict[str, Any]]] | None:
    """(start, end, parse tree node) of each statement, or None when pglast cannot or should not parse the text."""
    if pglast is None or len(text) > PARSER_MAX_CHARS:
        return None
    try:
        tree = json.loads(parse_sql_json(text))
    except Exception:  # a ParseError or any other parser trouble: the tokenizer still splits the text
        return None
    # libpg_query reports byte offsets into the UTF-8 text; a length of 0 (absent) means "to the end".
    offsets = _CharOffsets(text)
    spans = []
    for raw in tree.get("stmts", ()):
        start = raw.get("stmt_location", 0)
        char_start = offsets.of(start)
        char_end = offsets.of(start + raw["stmt_len"]) if raw.get("stmt_len") else len(text)
        spans.append((char_start, char_end, raw["stmt"]))
    return spans


def _classified(sql: str, node: dict[str, Any] | None) -> tuple[bool, str | None, bool]:
    if node is None:
        return classify_text(sql)
    name, body = next(iter(node.items()))
    return _classify_node(name, body)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Splitting a big file creates millions of small acyclic containers (parse tree JSON, statements); every
    collection the cyclic GC runs meanwhile walks all of them again (measured: 50 MB took 37 s instead of 8 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def split_statements(text: str) -> list[Statement]:
    """The statements of an SQL file, in order. Blank and comment-only pieces are not statements."""
    with _cyclic_gc_paused():
        return _split_statements(text)


def _split_statements(text: str) -> list[Statement]:
    parsed = _parse_with_pglast(text)
    spans = parsed if parsed is not None else [(s, e, None) for s, e in _split_with_tokenizer(text)]
    lines = _LineIndex(text)
    statements: list[Statement] = []
    for start, end, node in spans:
        sql, offset = _trimmed(text, start, end)
        if node is None and not _has_sql(sql):
            continue
        transactional, reason, control = _classified(sql, node)
        statements.append(Statement(sql=sql, index=len(statements) + 1, line=lines.line_of_statement(offset),
                                    transactional=transactional, reason=reason, transaction_control=control,
                                    node=node))
    return statements


def first_words(sql: str, count: int = 6) -> str:
    """A short label for a statement in messages."""
    words = strip_comments(sql).split()
    label = " ".join(words[:count])
    return label + (" ..." if len(words) > count else "")

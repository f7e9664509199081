"""Splitting SQL files into statements and classifying them (transactional or not, transaction control).

The PostgreSQL parser (pglast, libpg_query) is used where it parses the file. When it cannot (pglast missing, a
syntax error PostgreSQL will report itself, newer syntax), a careful tokenizer splits the text: comments (nested
block comments too), string literals ('', E'' with backslashes), quoted identifiers, dollar quoting and
BEGIN ATOMIC function bodies never split a statement.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

try:
    import pglast
    from pglast.parser import parse_sql_json
except ImportError:  # pragma: no cover - ansible-test's import sanity runs without pglast
    pglast = None
    parse_sql_json = None


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

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _split_with_tokenizer(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each statement, cut at top-level semicolons."""
    spans = []
    i = 0
    n = len(text)
    start = 0
    atomic_depth = 0  # inside BEGIN ATOMIC ... END (SQL-standard function body): ';' does not end the statement
    case_depth = 0  # CASE ... END inside such a body must not close it
    prev_words: list[str] = []
    while i < n:
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "-" and nxt == "-":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and nxt == "*":
            depth = 1
            i += 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth += 1
                    i += 2
                elif text.startswith("*/", i):
                    depth -= 1
                    i += 2
                else:
                    i += 1
            continue
        if ch == "'":
            # E'...' strings take backslash escapes; standard strings only double the quote.
            backslash = i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            i += 1
            while i < n:
                if backslash and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            continue
        if ch == '"':
            i += 1
            while i < n:
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            continue
        if ch == "$" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$")):
            match = _DOLLAR_TAG.match(text, i)
            if match:
                tag = match.group(0)
                end = text.find(tag, match.end())
                i = n if end < 0 else end + len(tag)
                continue
        if ch.isalpha() or ch == "_":
            match = _WORD.match(text, i)
            word = match.group(0).upper()
            if word == "ATOMIC" and prev_words[-1:] == ["BEGIN"]:
                atomic_depth += 1
            elif atomic_depth and word == "CASE":
                case_depth += 1
            elif atomic_depth and word == "END":
                if case_depth:
                    case_depth -= 1
                else:
                    atomic_depth -= 1
            prev_words = (prev_words + [word])[-2:]
            i = match.end()
            continue
        if ch == ";" and not atomic_depth:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, n))
    return spans


def strip_comments(sql: str) -> str:
    """The statement without comments, whitespace collapsed (for keyword matching in the fallback)."""
    out = []
    i = 0
    n = len(sql)
    while i < n:
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            out.append(" ")
            continue
        if sql.startswith("/*", i):
            depth = 1
            i += 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth += 1
                    i += 2
                elif sql.startswith("*/", i):
                    depth -= 1
                    i += 2
                else:
                    i += 1
            out.append(" ")
            continue
        if sql[i] in "'\"":
            quote = sql[i]
            j = i + 1
            while j < n:
                if sql[j] == quote:
                    if j + 1 < n and sql[j + 1] == quote:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        out.append(sql[i])
        i += 1
    return " ".join("".join(out).split())


def _has_sql(text: str) -> bool:
    return bool(strip_comments(text).strip(" ;"))


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


def _line_of(text: str, offset: int) -> int:
    """Line of the statement's first token (after leading comments), for messages."""
    n = len(text)
    while offset < n:
        if text[offset].isspace():
            offset += 1
        elif text.startswith("--", offset):
            end = text.find("\n", offset)
            offset = n if end < 0 else end + 1
        elif text.startswith("/*", offset):
            depth = 1
            offset += 2
            while offset < n and depth:
                if text.startswith("/*", offset):
                    depth, offset = depth + 1, offset + 2
                elif text.startswith("*/", offset):
                    depth, offset = depth - 1, offset + 2
                else:
                    offset += 1
        else:
            break
    return text.count("\n", 0, offset) + 1


def _trimmed(text: str, start: int, end: int) -> tuple[str, int]:
    """The span without surrounding whitespace, and the offset where it starts."""
    chunk = text[start:end]
    stripped = chunk.lstrip()
    return stripped.rstrip(), start + (len(chunk) - len(stripped))


def _parse_with_pglast(text: str) -> list[Statement] | None:
    if pglast is None:
        return None
    try:
        tree = json.loads(parse_sql_json(text))
    except Exception:  # a ParseError or any other parser trouble: the tokenizer still splits the text
        return None
    # libpg_query reports byte offsets into the UTF-8 text; a length of 0 (absent) means "to the end".
    ascii_only = text.isascii()
    data = text if ascii_only else text.encode("utf-8")
    statements = []
    for raw in tree.get("stmts", ()):
        start = raw.get("stmt_location", 0)
        end = start + raw["stmt_len"] if raw.get("stmt_len") else len(data)
        if not ascii_only:
            start, end = len(data[:start].decode("utf-8")), len(data[:end].decode("utf-8"))
        sql, offset = _trimmed(text, start, end)
        node = raw["stmt"]
        name, body = next(iter(node.items()))
        transactional, reason, control = _classify_node(name, body)
        statements.append(Statement(sql=sql, index=len(statements) + 1, line=_line_of(text, offset),
                                    transactional=transactional, reason=reason, transaction_control=control,
                                    node=node))
    return statements


def split_statements(text: str) -> list[Statement]:
    """The statements of an SQL file, in order. Blank and comment-only pieces are not statements."""
    parsed = _parse_with_pglast(text)
    if parsed is not None:
        return parsed
    statements = []
    for start, end in _split_with_tokenizer(text):
        sql, offset = _trimmed(text, start, end)
        if not _has_sql(sql):
            continue
        transactional, reason, control = classify_text(sql)
        statements.append(Statement(sql=sql, index=len(statements) + 1, line=_line_of(text, offset),
                                    transactional=transactional, reason=reason, transaction_control=control))
    return statements


def first_words(sql: str, count: int = 6) -> str:
    """A short label for a statement in messages."""
    words = strip_comments(sql).split()
    label = " ".join(words[:count])
    return label + (" ..." if len(words) > count else "")

"""Retargeting one ``[databases]`` entry of a PgBouncer ini file: only that entry's host, port and dbname change.

Every other line (comments, other entries, other sections, the entry's other settings such as user or pool_size)
is kept byte for byte. The file is replaced atomically (a temporary file in the same directory, fsynced, renamed
over it) with the original's owner and mode, so PgBouncer's RELOAD never reads a half-written file.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact

SECTION = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*$")
# name = connection string; the name may be double-quoted (names with spaces or upper case).
ENTRY = re.compile(r'^(?P<indent>\s*)(?P<name>"(?:[^"]|"")*"|[^\s=;#]+)(?P<eq>\s*=\s*)(?P<value>.*?)(?P<end>\s*)$')
# key=value pairs of the connection string; a value may be single-quoted with \' and \\ escapes.
PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")
TARGET_KEYS = ("host", "port", "dbname")


class PoolerConfigError(DbopsError):
    """The PgBouncer ini file cannot be read, has no such [databases] entry, or cannot be replaced."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    dbname: str


@dataclass(frozen=True)
class EntryChange:
    """The one line retargeting changes (equal lines: nothing to change)."""

    path: str
    line_number: int  # 1-based
    old_line: str
    new_line: str

    @property
    def changed(self) -> bool:
        return self.old_line != self.new_line

    def describe(self) -> str:
        """path:line: old -> new, any password in the entry masked."""
        return redact(f"{self.path}:{self.line_number}: {self.old_line.strip()} -> {self.new_line.strip()}")


def _unquote_name(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _unquote_value(value: str) -> str:
    if value.startswith("'"):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _quote_value(value: str) -> str:
    if value and re.fullmatch(r"[^\s'\\]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pairs(text: str) -> list[re.Match[str]]:
    """The key=value matches in their order; anything that is not key=value is refused."""
    matches: list[re.Match[str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = PAIR.match(text, position)
        if match is None or match.end() == position:
            raise PoolerConfigError(f"cannot read the connection string {text!r} near {text[position:]!r}")
        matches.append(match)
        position = match.end()
    return matches


def parse_connection_string(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs in their order, values unquoted."""
    return [(match.group(1), _unquote_value(match.group(2))) for match in _pairs(text)]


def retarget_connection_string(text: str, target: Target) -> str:
    """The same text with host, port and dbname set: a value already right is left as written (quoting, spacing),
    a wrong one replaced in place, a missing one appended."""
    wanted = {"host": target.host, "port": str(target.port), "dbname": target.dbname}
    pieces: list[str] = []
    position = 0
    for match in _pairs(text):
        key, written = match.group(1), match.group(2)
        if key in wanted:
            value = wanted.pop(key)
            if _unquote_value(written) != value:
                pieces.append(text[position:match.start(2)] + _quote_value(value))
                position = match.end(2)
    pieces.append(text[position:])
    pieces.extend(f" {key}={_quote_value(wanted[key])}" for key in TARGET_KEYS if key in wanted)
    return "".join(pieces)


def entry_target(text: str) -> dict[str, str]:
    return {key: value for key, value in parse_connection_string(text) if key in TARGET_KEYS}


def plan_retarget(path: str | Path, content: str, database: str, target: Target) -> EntryChange:
    """The line of database's [databases] entry and what it becomes; PoolerConfigError when there is none."""
    section = None
    for index, line in enumerate(content.splitlines(keepends=True)):
        body = line.rstrip("\r\n")
        header = SECTION.match(body)
        if header:
            section = header.group(1).lower()
            continue
        if section != "databases" or not body.strip() or body.lstrip().startswith((";", "#")):
            continue
        match = ENTRY.match(body)
        if match is None or _unquote_name(match.group("name")) != database:
            continue
        value = retarget_connection_string(match.group("value"), target)
        new_body = match.group("indent") + match.group("name") + match.group("eq") + value + match.group("end")
        return EntryChange(path=str(path), line_number=index + 1, old_line=line,
                           new_line=new_body + line[len(body):])
    raise PoolerConfigError(f"no entry {database!r} in the [databases] section", path=path)


def read_config(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PoolerConfigError(f"cannot read the PgBouncer config: {exc.strerror}", path=path) from None


def apply_change(content: str, change: EntryChange) -> str:
    lines = content.splitlines(keepends=True)
    lines[change.line_number - 1] = change.new_line
    return "".join(lines)


def replace_file(path: str | Path, content: str) -> None:
    """Write content over path atomically, keeping its owner, group and mode."""
    target = Path(path)
    try:
        status = target.stat()
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
    except OSError as exc:
        raise PoolerConfigError(f"cannot replace the PgBouncer config: {exc.strerror}", path=path) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, status.st_mode & 0o7777)
        if (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
            os.chown(temporary, status.st_uid, status.st_gid)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise PoolerConfigError(f"cannot replace the PgBouncer config: {exc.strerror}", path=path) from None

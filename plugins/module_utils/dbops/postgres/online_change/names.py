"""The names of an online change's objects: the shadow table, the old table after the swap, the mirror trigger and
its function, each derived from the table and the set's version, and bounded to PostgreSQL's 63 bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: longer names are cut by the server, and two could collide
_HASH_CHARS = 8


def split_table_name(name: str) -> tuple[str | None, str]:
    """"shop.orders" -> ("shop", "orders"); unquoted parts are folded to lower case like the server does."""
    parts = []
    for piece in name.split("."):
        piece = piece.strip()
        parts.append(piece[1:-1].replace('""', '"') if piece.startswith('"') else piece.lower())
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def bounded(stem: str, suffix: str) -> str:
    """stem + suffix, the stem cut (and a hash of the whole name added) when the name would pass 63 bytes."""
    whole = stem + suffix
    if len(whole.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return whole
    digest = hashlib.sha256(whole.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    room = MAX_IDENTIFIER_BYTES - len(f"_{digest}{suffix}".encode())
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{cut}_{digest}{suffix}"


@dataclass(frozen=True)
class ChangeNames:
    shadow: str  # the new table while it is filled, in the original's schema
    old: str  # the original after the swap, kept for a later contract set
    trigger: str  # on the original
    function: str  # in schema dbops


def change_names(schema: str, table: str, version: str, direction: str) -> ChangeNames:
    """A rollback (direction down) gets its own names: the forward change's old table may still be there. The
    function lives in schema dbops, next to functions for tables of the same name in other schemas."""
    tag = version if direction == "up" else f"{version}_r"
    return ChangeNames(
        shadow=bounded(table, f"__shadow_{tag}"),
        old=bounded(table, f"__old_{tag}"),
        trigger=bounded("dbops_online_change", f"_{tag}"),
        function=bounded(f"online_change_{schema}_{table}", f"_{tag}"),
    )

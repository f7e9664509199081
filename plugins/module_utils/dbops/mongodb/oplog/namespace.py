"""The one rule for which oplog entries belong to a database's backup (the dump's window and the capture).

Entries may be raw BSON (RawBSONDocument, as read from local.oplog.rs) or decoded (from a change stream turned into
oplog form): both are read through the Mapping interface only, so the rule is the same for both.

An entry belongs when replaying it can change what the database holds:
- CRUD and commands on its namespaces (ns "<db>.<coll>" or "<db>.$cmd": create, drop, collMod, createIndexes,
  dropIndexes, dropDatabase, ...);
- a renameCollection whose source OR target is in the database, whatever the entry's ns ("admin.$cmd" for moves
  across databases): a rename out removes a collection, a rename in brings one (the restore decides what it can do
  with it; leaving it out would lose the collection silently);
- an applyOps (transactions, also nested) with any inner entry that belongs.
No-ops ("n") never belong: they carry no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NOOP = "n"
COMMAND = "c"


def in_database(namespace: Any, database: str) -> bool:
    """Whether "<db>.<rest>" names something in database (database names cannot contain a dot)."""
    return isinstance(namespace, str) and namespace.startswith(database + ".")


def belongs_to_database(entry: Mapping[str, Any], database: str) -> bool:
    """Whether the oplog entry (raw BSON or decoded) changes database; see the module's docstring for the rule."""
    op = entry.get("op")
    if op == NOOP:
        return False
    if in_database(entry.get("ns"), database):
        return True
    if op != COMMAND:
        return False
    command = entry.get("o") or {}
    if "applyOps" in command:
        return any(belongs_to_database(inner, database) for inner in _inner_entries(command["applyOps"]))
    if "renameCollection" in command:
        return in_database(command.get("renameCollection"), database) or in_database(command.get("to"), database)
    return False


def _inner_entries(ops: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    return (op for op in ops or () if isinstance(op, Mapping))

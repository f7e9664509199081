"""Upgrading the MongoDB ledger collections to the layout this code writes, and refusing a newer one.

The upgrade runs only under the runner lock (never in check mode or for state=status, which only report it as
pending), document by document: each step turns a document of layout N-1 into one of layout N, and the update
matches only while the document still has the layout it was read with, so a rerun (or a second runner after a
crash) finds nothing left to do. A collection that does not exist is left alone: an empty database gets no
ledger from an upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate import ledger, lock, progress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import (
    FIRST_LAYOUT,
    LAYOUT,
    LAYOUT_FIELD,
)

COLLECTIONS = (ledger.COLLECTION, lock.COLLECTION, progress.PROGRESS, progress.TOUCHED)
_OLDER = {"$or": [{LAYOUT_FIELD: {"$exists": False}}, {LAYOUT_FIELD: {"$lt": LAYOUT}}]}

# step(collection, document) -> the fields to $set to bring the document to the step's layout.
Step = Callable[[str, dict[str, Any]], dict[str, Any]]


def _to_2(collection: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Ledger entries get their version field (v1 could upsert an entry without it) and lose the secrets their
    texts may hold (v1 stored error messages as they came); the other collections only get the stamp."""
    if collection != ledger.COLLECTION:
        return {}
    fields = {name: doc[name] for name in ledger.TEXT_FIELDS if name in doc}
    fields = {name: value for name, value in ledger.redacted(fields).items() if value != doc[name]}
    if "version" not in doc:
        fields["version"] = doc["_id"]
    return fields


STEPS: dict[int, Step] = {2: _to_2}


@dataclass(frozen=True)
class LayoutState:
    pending: dict[str, int]  # collection -> documents of an older layout

    def describe_pending(self) -> str:
        counts = ", ".join(f"{name}: {count}" for name, count in self.pending.items())
        return (f"MongoDB: the ledger collections are upgraded to layout {LAYOUT} by the next run that takes the "
                f"runner lock ({counts} documents of an older layout); check mode leaves them as they are")


def _existing(db: Any) -> list[str]:
    present = set(db.list_collection_names(filter={"name": {"$in": list(COLLECTIONS)}}))
    return [name for name in COLLECTIONS if name in present]


def refuse_newer(db: Any) -> None:
    """Raise when a document was written with a layout this code does not know (reads only)."""
    for name in _existing(db):
        newer = db[name].find_one({LAYOUT_FIELD: {"$gt": LAYOUT}}, {LAYOUT_FIELD: 1})
        if newer is not None:
            raise MigrationFailed(
                f"the MongoDB ledger of database {db.name} has layout {newer[LAYOUT_FIELD]} ({name}), newer than "
                f"layout {LAYOUT} that this version of sevenp.dbops knows: a newer sevenp.dbops ran here; use it "
                "(nothing was changed)")


def inspect(db: Any) -> LayoutState:
    """What an upgrade would do, reading only (check mode)."""
    pending = {name: db[name].count_documents(_OLDER) for name in _existing(db)}
    return LayoutState({name: count for name, count in pending.items() if count})


def _upgrade_document(db: Any, collection: str, doc: dict[str, Any]) -> bool:
    found = doc.get(LAYOUT_FIELD, FIRST_LAYOUT)
    fields: dict[str, Any] = {}
    for target in range(found + 1, LAYOUT + 1):
        fields.update(STEPS[target](collection, {**doc, **fields}))
    match = {"_id": doc["_id"], LAYOUT_FIELD: doc.get(LAYOUT_FIELD, {"$exists": False})}
    if collection == ledger.COLLECTION:
        return ledger.write_entry(db, match, {"$set": fields}) == 1
    return db[collection].update_one(match, {"$set": {**fields, LAYOUT_FIELD: LAYOUT}}).modified_count == 1


def upgrade(db: Any) -> int:
    """Bring every document to LAYOUT; returns how many were upgraded. The caller holds the runner lock."""
    refuse_newer(db)
    upgraded = 0
    for name in _existing(db):
        for doc in list(db[name].find(_OLDER)):
            upgraded += _upgrade_document(db, name, doc)
    return upgraded

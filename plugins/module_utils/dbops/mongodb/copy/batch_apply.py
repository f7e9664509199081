"""Applying a batch of change events with few round trips, in an order that gives the same result.

Documents' writes are queued per collection and sent as one ordered bulk_write per collection: an insert or a
replace is a ReplaceOne upsert by _id, a delete a DeleteOne, an update its updateDescription as UpdateOne with
$set / $unset of the same paths (the source ran a write with those paths on the same document, so the target's
server resolves them the same way). Writes to different collections do not depend on each other, so sending each
collection's in order is enough. Anything else - DDL events, updates with truncated arrays or disambiguated paths -
first sends what is queued, then goes through the engine's one replay path (oplog/apply.py), in event order.

A batch is applied whole before the state document moves (tail.py); a crash mid-batch only means the events after
the last recorded token are applied again, which changes nothing.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    is_user_collection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo, pymongo_errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.apply import OplogApplier
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.change_events import event_to_oplog

DOCUMENT_EVENTS = ("insert", "replace", "delete", "update")
NOTHING = object()  # an update event that changed no field: nothing to send


def update_operation(description: dict[str, Any]) -> dict[str, Any] | None:
    """$set / $unset for an updateDescription, or None when only the replay path can apply it."""
    if description.get("truncatedArrays") or description.get("disambiguatedPaths"):
        return None
    update: dict[str, Any] = {}
    if description.get("updatedFields"):
        update["$set"] = dict(description["updatedFields"])
    if description.get("removedFields"):
        update["$unset"] = {path: "" for path in description["removedFields"]}
    return update


class BatchApplier:
    def __init__(self, target_client: Any, database: str, source_client: Any = None) -> None:
        self.source_db = source_client[database] if source_client is not None else None
        self.db = target_client[database]
        self.database = database
        self.replay = OplogApplier(target_client, database, database)
        self.queued: dict[str, list[Any]] = {}

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("operationType")
        collection = (event.get("ns") or {}).get("coll")
        if kind in DOCUMENT_EVENTS and collection:
            if not is_user_collection(collection):
                return
            operation = self._operation(kind, event)
            if operation is not None:
                self.queued.setdefault(collection, []).append(operation)
                return
        self.flush()
        if kind == "createIndexes":
            event = self._with_source_index_options(event)
        entry = event_to_oplog(event)
        if entry is not None:
            self.replay.apply(entry, strict=False)

    def _operation(self, kind: str, event: dict[str, Any]) -> Any:
        selector = {"_id": event["documentKey"]["_id"]}
        if kind in ("insert", "replace"):
            return pymongo.ReplaceOne(selector, event["fullDocument"], upsert=True)
        if kind == "delete":
            return pymongo.DeleteOne(selector)
        update = update_operation(event.get("updateDescription") or {})
        if update is None:
            return None
        return pymongo.UpdateOne(selector, update) if update else NOTHING

    def _with_source_index_options(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with each index's full spec as the source has it now.

        SecantusDB's createIndexes events carry only key and name, not unique, expireAfterSeconds, partial filters:
        the source's own spec of an index of that name is taken instead (the event's when it is gone again).
        """
        described = event.get("operationDescription") or {}
        collection = (event.get("ns") or {}).get("coll")
        if self.source_db is None or not collection or not described.get("indexes"):
            return event
        try:
            current = {index["name"]: dict(index) for index in self.source_db[collection].list_indexes()}
        except pymongo_errors.OperationFailure:
            return event  # the collection is gone again: a later drop event follows
        specs = []
        for spec in described["indexes"]:
            full = current.get(spec.get("name"))
            chosen = full if full is not None and dict(full.get("key") or {}) == dict(spec.get("key") or {}) else spec
            specs.append({key: value for key, value in chosen.items() if key != "ns"})
        return {**event, "operationDescription": {**described, "indexes": specs}}

    def flush(self) -> None:
        queued, self.queued = self.queued, {}
        for collection, operations in queued.items():
            operations = [operation for operation in operations if operation is not NOTHING]
            if not operations:
                continue
            try:
                self.db[collection].bulk_write(operations, ordered=True, bypass_document_validation=True)
            except pymongo_errors.BulkWriteError as exc:
                errors = (exc.details or {}).get("writeErrors") or [{}]
                raise CopyError(f"applying changes to {self.database}.{collection} failed: "
                                f"{errors[0].get('errmsg', exc)}") from exc

"""Replaying oplog entries (mongod's format) onto a target database, idempotently.

Two regimes, because a dump taken without a snapshot is "fuzzy":
- fuzzy (the dump's own oplog window, between its start and its consistency point): documents may already reflect
  some of these changes, so inserts become upserts, updates of missing documents and deletes of missing documents
  are normal, and nothing is counted as an anomaly;
- strict (after the consistency point): the target is exactly the source as of the last applied entry, so every
  insert must create, every update must find its document and every delete must remove one. Anything else is an
  anomaly: the restore is not what the source was, and verification fails.

Entries name the source database in "ns"; they are applied to target_database. Transactions arrive either as one
"applyOps" command (mongod; large ones split over entries flagged partialTxn, applied only when the last one comes)
or as plain separate entries (SecantusDB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    is_user_collection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import ts_text
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.update_diff import (
    DiffError,
    apply_diff,
    oplog_delta,
)

# Commands that change nothing a logical restore carries.
_IGNORED_COMMANDS = {
    "startIndexBuild", "abortIndexBuild", "commitTransaction", "abortTransaction", "dbCheck", "emptycapped",
}
NAMESPACE_NOT_FOUND = 26
INDEX_NOT_FOUND = 27
DUPLICATE_KEY = 11000
INDEX_EXISTS_CODES = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict


@dataclass
class ApplyStats:
    applied: int = 0
    skipped: int = 0
    anomalies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Net documents added per collection by strict-mode entries; a DDL entry on a collection resets it (None).
    count_delta: dict[str, int | None] = field(default_factory=dict)
    ddl_collections: set[str] = field(default_factory=set)

    def anomaly(self, text: str) -> None:
        if len(self.anomalies) < 50:
            self.anomalies.append(text)

    def bump(self, coll: str, delta: int) -> None:
        if coll in self.count_delta and self.count_delta[coll] is None:
            return
        self.count_delta[coll] = (self.count_delta.get(coll) or 0) + delta


class OplogApplier:
    """Applies entries of source_database to target_database on client; see the module docstring."""

    def __init__(self, client, source_database: str, target_database: str) -> None:
        self.client = client
        self.source = source_database
        self.db = client[target_database]
        self.target_name = target_database
        self.stats = ApplyStats()
        self._partial_txns: dict[Any, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------------------------------------- entry
    def apply(self, entry: dict[str, Any], *, strict: bool) -> None:
        op = entry.get("op")
        if op == "n":
            self.stats.skipped += 1
            return
        if op == "c" and "applyOps" in entry.get("o", {}):
            self._apply_ops_command(entry, strict=strict)
            return
        coll = self._collection_of(entry.get("ns", ""))
        if coll is None:
            self.stats.skipped += 1
            return
        where = f"{entry.get('ns')} at {ts_text(entry.get('ts'))}"
        try:
            if op == "i":
                self._insert(coll, entry["o"], strict, where)
            elif op == "u":
                self._update(coll, entry, strict, where)
            elif op == "d":
                self._delete(coll, entry["o"], strict, where)
            elif op == "c":
                self._command(entry["o"], strict, where)
            else:
                self.stats.warnings.append(f"unknown oplog operation {op!r} at {where} skipped")
                self.stats.skipped += 1
                return
        except pymongo_errors.PyMongoError as exc:
            raise RestoreError(f"replaying {where} into {self.target_name} failed: {exc}") from exc
        self.stats.applied += 1

    def _collection_of(self, ns: str) -> str | None:
        """The collection an entry touches in our database; "$cmd" for commands; None for other databases."""
        db_name, coll = ns.partition(".")[::2]
        if db_name != self.source or not coll:
            return None
        if coll != "$cmd" and not is_user_collection(coll):
            return None  # system.views, system.profile, ...: views come through create/collMod/drop commands
        return coll

    # -------------------------------------------------------------------------------------------------- CRUD
    def _insert(self, coll: str, doc: dict[str, Any], strict: bool, where: str) -> None:
        target = self.db[coll]
        if strict:
            try:
                target.insert_one(doc, bypass_document_validation=True)
                self.stats.bump(coll, 1)
                return
            except pymongo_errors.DuplicateKeyError:
                self.stats.anomaly(f"insert of an existing document {doc.get('_id')!r} ({where})")
        target.replace_one({"_id": doc["_id"]}, doc, upsert=True, bypass_document_validation=True)

    def _update(self, coll: str, entry: dict[str, Any], strict: bool, where: str) -> None:
        target = self.db[coll]
        selector = {"_id": entry["o2"]["_id"]}
        change = entry["o"]
        upsert = bool(entry.get("b"))
        if change.get("$v") == 2 and "diff" in change:
            current = target.find_one(selector)
            if current is None:
                if strict:
                    self.stats.anomaly(f"update of a missing document {selector['_id']!r} ({where})")
                return
            try:
                updated = apply_diff(current, oplog_delta(change["diff"]))
            except DiffError as exc:
                raise RestoreError(f"cannot apply the update at {where}: {exc}") from exc
            target.replace_one(selector, updated, bypass_document_validation=True)
            return
        if any(key.startswith("$") for key in change):
            modifiers = {key: value for key, value in change.items() if key != "$v"}
            result = target.update_one(selector, modifiers, upsert=upsert, bypass_document_validation=True)
        else:
            result = target.replace_one(selector, change, upsert=upsert, bypass_document_validation=True)
        if result.upserted_id is not None:
            self.stats.bump(coll, 1)
        elif result.matched_count == 0 and strict:
            self.stats.anomaly(f"update of a missing document {selector['_id']!r} ({where})")

    def _delete(self, coll: str, key: dict[str, Any], strict: bool, where: str) -> None:
        result = self.db[coll].delete_one({"_id": key["_id"]})
        if result.deleted_count:
            self.stats.bump(coll, -1)
        elif strict:
            self.stats.anomaly(f"delete of a missing document {key['_id']!r} ({where})")

    # ------------------------------------------------------------------------------------------ transactions
    def _apply_ops_command(self, entry: dict[str, Any], *, strict: bool) -> None:
        command = entry["o"]
        key = (repr(entry.get("lsid")), entry.get("txnNumber"))
        if command.get("partialTxn") or entry.get("partialTxn"):
            self._partial_txns.setdefault(key, []).extend(command["applyOps"])
            self.stats.skipped += 1
            return
        if command.get("prepare") or entry.get("prepare"):
            self.stats.warnings.append(f"prepared transaction at {ts_text(entry.get('ts'))} not replayed")
            self.stats.skipped += 1
            return
        inner = self._partial_txns.pop(key, []) + list(command["applyOps"])
        for op in inner:
            nested = dict(op)
            nested.setdefault("ts", entry.get("ts"))
            nested.setdefault("wall", entry.get("wall"))
            self.apply(nested, strict=strict)

    # ---------------------------------------------------------------------------------------------- commands
    def _command(self, command: dict[str, Any], strict: bool, where: str) -> None:
        name = next(iter(command))
        stats = self.stats
        if name in _IGNORED_COMMANDS:
            stats.skipped += 1
            return
        if name == "create":
            self._create(command, where)
        elif name == "drop":
            self._mark_ddl(command["drop"])
            self.db.drop_collection(command["drop"])
        elif name == "dropDatabase":
            for coll in self.db.list_collection_names():
                self._mark_ddl(coll)
                self.db.drop_collection(coll)
        elif name == "renameCollection":
            self._rename(command, where)
        elif name in ("createIndexes", "commitIndexBuild"):
            self._create_indexes(command[name], command, where)
        elif name in ("dropIndexes", "deleteIndexes"):
            self._drop_indexes(command[name], command)
        elif name == "collMod":
            self._coll_mod(command, where)
        else:
            stats.warnings.append(f"command {name!r} at {where} is not replayed by a logical restore")

    def _mark_ddl(self, coll: str) -> None:
        self.stats.count_delta[coll] = None
        self.stats.ddl_collections.add(coll)

    def _create(self, command: dict[str, Any], where: str) -> None:
        name = command["create"]
        if name in self.db.list_collection_names():
            return
        options = {key: value for key, value in command.items() if key not in ("create", "idIndex")}
        if "viewPipeline" in options:  # SecantusDB spells a view's pipeline this way in its oplog
            options["pipeline"] = options.pop("viewPipeline")
        self._mark_ddl(name)
        self.db.command({"create": name, **options})

    def _rename(self, command: dict[str, Any], where: str) -> None:
        source_ns, target_ns = command["renameCollection"], command["to"]
        from_db, from_coll = source_ns.partition(".")[::2]
        to_db, to_coll = target_ns.partition(".")[::2]
        ours_from, ours_to = from_db == self.source, to_db == self.source
        if ours_from and ours_to:
            self._mark_ddl(from_coll)
            self._mark_ddl(to_coll)
            existing = self.db.list_collection_names()
            if from_coll not in existing:
                return  # already renamed by an earlier application
            if to_coll in existing and command.get("dropTarget"):
                self.db.drop_collection(to_coll)
            self.client.admin.command("renameCollection", f"{self.target_name}.{from_coll}",
                                      to=f"{self.target_name}.{to_coll}", dropTarget=bool(command.get("dropTarget")))
        elif ours_from:
            self._mark_ddl(from_coll)
            self.db.drop_collection(from_coll)  # moved to another database: gone from ours
        elif ours_to:
            raise RestoreError(
                f"{where}: collection {target_ns} was renamed into the database from {source_ns}, whose contents "
                "are not in this archive (a restore or a cross-database move happened here); restore to a point "
                "before it, or from a dump taken after it"
            )

    def _create_indexes(self, name: str, command: dict[str, Any], where: str) -> None:
        if "indexes" in command:
            specs = list(command["indexes"])
        else:  # mongod: one index per entry, the spec inline
            specs = [{key: value for key, value in command.items() if key != "createIndexes"}]
        clean = [{key: value for key, value in spec.items() if key not in ("entryFormat", "ns")} for spec in specs]
        self.stats.ddl_collections.add(name)
        try:
            self.db.command({"createIndexes": name, "indexes": clean})
        except pymongo_errors.OperationFailure as exc:
            if exc.code in INDEX_EXISTS_CODES:
                self.stats.warnings.append(f"index on {name} at {where} already present with other options: {exc}")
                return
            raise

    def _drop_indexes(self, name: str, command: dict[str, Any]) -> None:
        index = command.get("index")
        self.stats.ddl_collections.add(name)
        names = index if isinstance(index, list) else [index]
        for index_name in names:
            try:
                self.db.command({"dropIndexes": name, "index": index_name})
            except pymongo_errors.OperationFailure as exc:
                if exc.code not in (INDEX_NOT_FOUND, NAMESPACE_NOT_FOUND):
                    raise

    def _coll_mod(self, command: dict[str, Any], where: str) -> None:
        name = command["collMod"]
        options = {key: value for key, value in command.items() if key != "collMod"}
        if "viewPipeline" in options:
            options["pipeline"] = options.pop("viewPipeline")
        self.stats.ddl_collections.add(name)
        try:
            self.db.command({"collMod": name, **options})
        except pymongo_errors.OperationFailure as exc:
            if exc.code == NAMESPACE_NOT_FOUND:
                return
            self.stats.warnings.append(f"collMod of {name} at {where} not replayed: {exc}")

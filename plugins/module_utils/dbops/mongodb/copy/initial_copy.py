"""The initial copy of one database: its collections (options, validators, indexes) and documents.

Taken without a snapshot while the source keeps writing, so it is fuzzy: a document may be copied before or after
a change. The tail then replays every change from the cluster time read BEFORE the first collection was listed
(``started_at``), idempotently (upserts by _id, updates applied to the current document), which brings every
document to the source's state. Documents go across as raw BSON (field order and types exact) in _id order,
batch by batch; secondary indexes are built after the documents (faster, and a unique index is then checked once
on the whole collection). Views are created with their pipeline; system.* collections are left out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    is_user_collection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import RAW_CODEC
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyError

BATCH_SIZE = 1000
# Index spec fields the server fills in itself; passing them back is refused or meaningless.
SERVER_INDEX_FIELDS = ("v", "ns")


@dataclass
class InitialCopyResult:
    collections: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    documents: int = 0
    indexes: int = 0


def source_cluster_time(source_client: Any) -> Any:
    """The source's newest cluster time (what the tail starts from once the documents are across)."""
    hello = source_client.admin.command("hello")
    last = ((hello.get("lastWrite") or {}).get("opTime") or {}).get("ts")
    if last is None:
        last = hello.get("operationTime")
    if last is None:
        raise CopyError("the source reports no cluster time: a copy needs a replica set (or SecantusDB) as source")
    return last


def target_collections(target_client: Any, database: str) -> list[str]:
    return sorted(name for name in target_client[database].list_collection_names() if is_user_collection(name))


def clear_target(target_client: Any, database: str, queries: list[str]) -> None:
    """Drop what an interrupted initial copy left, so the new one starts from an empty database."""
    for name in target_collections(target_client, database):
        queries.append(f"db.getSiblingDB({database!r}).{name}.drop()")
        target_client[database].drop_collection(name)


class InitialCopyStopped(CopyError):
    """Stopped (SIGTERM) before the initial copy was done: the next start makes it again from the beginning."""


def copy_database(source_client: Any, target_client: Any, database: str, queries: list[str], *,
                  batch_size: int = BATCH_SIZE, log: Callable[[str, dict[str, Any]], None] | None = None,
                  stop: threading.Event | None = None) -> InitialCopyResult:
    result = InitialCopyResult()
    stop = stop or threading.Event()
    source_db, target_db = source_client[database], target_client[database]
    queries.append(f"db.getSiblingDB({database!r}).getCollectionInfos()")
    infos = [info for info in source_db.list_collections() if is_user_collection(info["name"])]
    # Collections first, views after: a view may read from any collection of the database.
    for info in sorted(infos, key=lambda item: (item.get("type") == "view", item["name"])):
        name, options = info["name"], dict(info.get("options") or {})
        queries.append(f"db.getSiblingDB({database!r}).createCollection({name!r}, <options of the source>)")
        target_db.command({"create": name, **options})
        if info.get("type") == "view":
            result.views.append(name)
            continue
        result.collections.append(name)
        result.documents += _copy_documents(source_db, target_db, name, batch_size, queries, stop)
        result.indexes += _copy_indexes(source_db, target_db, name, queries)
        if log is not None:
            log("copy_collection", {"collection": name, "documents": result.documents})
    return result


def _copy_documents(source_db: Any, target_db: Any, name: str, batch_size: int, queries: list[str],
                    stop: threading.Event) -> int:
    source = source_db.get_collection(name, codec_options=RAW_CODEC)
    target = target_db.get_collection(name, codec_options=RAW_CODEC)
    # One cursor in _id order rather than _id > last queries: $gt compares within one BSON type only, so paging by
    # value would skip the documents whose _id has another type.
    queries.append(f"{name}.find().sort({{_id: 1}}) -> insertMany of {batch_size} (bypassDocumentValidation)")
    copied, batch = 0, []
    for document in source.find({}, sort=[("_id", 1)], batch_size=batch_size):
        batch.append(document)
        if len(batch) >= batch_size:
            copied += _insert(target, batch)
            batch = []
            if stop.is_set():
                raise InitialCopyStopped(f"stopped during the initial copy of {source_db.name}.{name}")
    return copied + (_insert(target, batch) if batch else 0)


def _insert(target: Any, batch: list[Any]) -> int:
    # Validators apply to the application's writes; the copy carries what the source accepted.
    target.insert_many(batch, ordered=True, bypass_document_validation=True)
    return len(batch)


def _copy_indexes(source_db: Any, target_db: Any, name: str, queries: list[str]) -> int:
    specs = []
    for index in source_db[name].list_indexes():
        spec = {key: value for key, value in dict(index).items() if key not in SERVER_INDEX_FIELDS}
        if spec.get("name") != "_id_":
            specs.append(spec)
    if not specs:
        return 0
    queries.append(f"db.getSiblingDB({source_db.name!r}).runCommand({{createIndexes: {name!r}, indexes: "
                   f"[{', '.join(repr(spec['name']) for spec in specs)}]}})")
    target_db.command({"createIndexes": name, "indexes": specs})
    return len(specs)

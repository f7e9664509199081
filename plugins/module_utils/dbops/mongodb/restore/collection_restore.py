"""Single collections as they were at a point in time: the database restored into a side database, then the named
collections copied back.

Staging reuses the point-in-time restore (restore.restore) with the side database as its target: the dump that
covers the target, its oplog window and the change archive up to the target, verified, with options, validators
and indexes. The whole database is restored there (a dump is restored as a whole; the side database is also what
an operator compares with), and it stays for inspection.
Copy back: a collection missing from the live database is created with the side copy's options (validator
included), its documents are inserted in batches and its indexes built. A collection present gets its documents
replaced: deleted, then inserted from the side copy, in batches. That is not atomic (MongoDB has no transaction
over a whole collection's contents): readers may see it half-replaced until it ends, which is why the emergency
response runs it while the database is read-only for the application.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore as mongo_restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

BATCH = 1000


def side_database_name(database: str) -> str:
    return f"{database}_recovered"


def plan(uri: str, repo: Repository, database: str, target: Any, side_database: str) -> mongo_restore.RestorePlan:
    return mongo_restore.plan_restore(uri, repo, database, target, target_database=side_database, existing="drop")


def stage(uri: str, repo: Repository, database: str, target: Any, side_database: str,
          restore_plan: mongo_restore.RestorePlan, client: Any) -> mongo_restore.RestoreResult:
    return mongo_restore.restore(uri, repo, database, target, target_database=side_database, plan=restore_plan,
                                 client=client)


def side_count(client: Any, side_database: str, collection: str) -> int:
    if collection not in client[side_database].list_collection_names():
        raise RestoreError(f"collection {collection} did not exist at the restore target (not in the restored "
                           f"copy {side_database}); nothing was copied back")
    return int(client[side_database][collection].count_documents({}))


def copy_back(client: Any, database: str, side_database: str, collection: str, queries: list[str]) -> str:
    """Put the side copy's documents back into the live collection; how it was done."""
    side = client[side_database][collection]
    live_db = client[database]
    how = "documents replaced"
    if collection not in live_db.list_collection_names():
        info: dict[str, Any] = next(iter(client[side_database].list_collections(filter={"name": collection})), {})
        options = {key: value for key, value in (info.get("options") or {}).items() if key != "uuid"}
        queries.append(f"db.createCollection({collection!r}, {sorted(options)}) on {database}")
        live_db.command({"create": collection, **options})
        how = "recreated"
    else:
        queries.append(f"db.{collection}.deleteMany({{}}) on {database}")
        live_db[collection].delete_many({})
    queries.append(f"insert the {side_database}.{collection} documents into {database}.{collection}, "
                   f"{BATCH} at a time")
    batch: list[Any] = []
    for document in side.find({}, sort=[("_id", 1)]):
        batch.append(document)
        if len(batch) >= BATCH:
            live_db[collection].insert_many(batch, ordered=True)
            batch = []
    if batch:
        live_db[collection].insert_many(batch, ordered=True)
    specs = [spec for spec in side.list_indexes() if spec.get("name") != "_id_"]
    if specs and how == "recreated":
        clean = [{key: value for key, value in dict(spec).items() if key not in ("ns", "v")} for spec in specs]
        queries.append(f"db.{collection}.createIndexes({[spec['name'] for spec in clean]}) on {database}")
        live_db.command({"createIndexes": collection, "indexes": clean})
    return how

"""Which sides of a cutover estate accept a write from the APPLICATION right now: the "never two writable sides"
check of the cutover tests.

PostgreSQL: as app_user straight on each cluster (not through PgBouncer), an INSERT into `customers` in a
transaction that is always rolled back (a side without that table, down, or fenced is not writable).
MongoDB: as app_user straight on each server, an insert and a delete in a scratch collection (a refused insert,
an unreachable server: not writable).
"""

from __future__ import annotations

import uuid

from .cutover_estate import SIDES, CutoverEstate

PG_PROBE_TABLE = "customers"
MONGO_PROBE_COLLECTION = "dbops_writable_probe"


def pg_writable(estate: CutoverEstate, side: str) -> bool:
    import psycopg

    probe_id = -(uuid.uuid4().int % 2_000_000_000) - 1
    try:
        with psycopg.connect(estate.app_dsn_direct(side), connect_timeout=5) as conn:
            try:
                conn.execute(f"INSERT INTO {PG_PROBE_TABLE} (id, name) VALUES (%s, 'writable probe')", (probe_id,))
                return True
            finally:
                conn.rollback()
    except psycopg.Error:
        return False


def mongo_writable(estate: CutoverEstate, side: str) -> bool:
    import pymongo

    try:
        with pymongo.MongoClient(estate.app_mongo_uri_direct(side), serverSelectionTimeoutMS=3000,
                                 socketTimeoutMS=5000) as client:
            scratch = client[estate.mongodb_database][MONGO_PROBE_COLLECTION]
            marker = uuid.uuid4().hex
            scratch.insert_one({"_id": marker})
            scratch.delete_one({"_id": marker})
            return True
    except pymongo.errors.PyMongoError:
        return False


def writable_sides(estate: CutoverEstate) -> dict[str, list[str]]:
    """{"postgres": [sides...], "mongodb": [sides...]}; a database the estate does not run is an empty list."""
    postgres = [side for side in SIDES if estate.blue is not None and pg_writable(estate, side)]
    mongodb = [side for side in SIDES if estate.blue_mongo is not None and mongo_writable(estate, side)]
    return {"postgres": postgres, "mongodb": mongodb}

"""Per-collection content digests, because SecantusDB (and mongos) have no dbHash.

A collection's digest is the sha256 of its documents' BSON, exactly as the server returns them, in _id order. Field
order is part of a MongoDB document, so it is part of the digest; a restore that reorders fields or changes a number's
type (int32 -> double) changes the digest, which is what a restore check wants.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import RAW_CODEC, require_driver

BATCH = 1000


@dataclass(frozen=True)
class CollectionDigest:
    name: str
    count: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_user_collection(name: str) -> bool:
    """Collections a dump and a restore carry: not system.* (except system.js, as mongodump does)."""
    return name == "system.js" or not name.startswith("system.")


def collection_digest(db, name: str) -> CollectionDigest:
    require_driver()
    digest = hashlib.sha256()
    count = 0
    coll = db.get_collection(name, codec_options=RAW_CODEC)
    for doc in coll.find({}, sort=[("_id", 1)], batch_size=BATCH):
        digest.update(doc.raw)
        count += 1
    return CollectionDigest(name, count, digest.hexdigest())


def database_digests(client, database: str, collections: list[str] | None = None) -> dict[str, CollectionDigest]:
    """Digests of every user collection (not views) of database, or of the named ones."""
    db = client[database]
    if collections is None:
        collections = sorted(
            info["name"] for info in db.list_collections()
            if info.get("type", "collection") == "collection" and is_user_collection(info["name"])
        )
    return {name: collection_digest(db, name) for name in collections}


def normalize_index_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """An index spec reduced to what defines the index, for comparing a restored index with the dumped one."""
    out = {key: value for key, value in dict(spec).items() if key not in ("ns", "v", "key")}
    out["key"] = [[field, value] for field, value in dict(spec["key"]).items()]
    return dict(sorted(out.items()))


def index_specs(db, name: str) -> dict[str, dict[str, Any]]:
    return {spec["name"]: normalize_index_spec(spec) for spec in db[name].list_indexes()}

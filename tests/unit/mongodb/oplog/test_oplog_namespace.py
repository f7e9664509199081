"""The one oplog namespace rule, on decoded entries and on the same entries as raw BSON (as read from the oplog)."""

from __future__ import annotations

import bson
import pytest
from bson.raw_bson import RawBSONDocument

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.namespace import (
    belongs_to_database,
    in_database,
)

TS = bson.Timestamp(1_700_000_000, 1)


def entry(op: str, ns: str, o: dict | None = None, **extra) -> dict:
    return {"ts": TS, "op": op, "ns": ns, "o": o if o is not None else {}, **extra}


def txn(*inner: dict) -> dict:
    return entry("c", "admin.$cmd", {"applyOps": list(inner)})


CASES = [
    # CRUD on the database's collections, and on other databases (same prefix included).
    ("insert", entry("i", "app.users", {"_id": 1}), True),
    ("update", entry("u", "app.users", {"$v": 2, "diff": {}}, o2={"_id": 1}), True),
    ("delete", entry("d", "app.users", {"_id": 1}), True),
    ("system collection", entry("i", "app.system.views", {"_id": "app.v"}), True),
    ("other database", entry("i", "other.users", {"_id": 1}), False),
    ("database with the name as prefix", entry("i", "app2.users", {"_id": 1}), False),
    ("database that is a prefix of the name", entry("i", "ap.users", {"_id": 1}), False),
    ("no-op in the database", entry("n", "app.users", {"msg": "periodic noop"}), False),
    ("no-op without ns", entry("n", "", {"msg": "new primary"}), False),
    # Commands on the database (ns <db>.$cmd).
    ("create", entry("c", "app.$cmd", {"create": "orders", "idIndex": {"key": {"_id": 1}, "name": "_id_"}}), True),
    ("drop", entry("c", "app.$cmd", {"drop": "orders"}), True),
    ("collMod", entry("c", "app.$cmd", {"collMod": "orders", "validator": {}}), True),
    ("createIndexes", entry("c", "app.$cmd", {"createIndexes": "orders", "v": 2, "key": {"a": 1}, "name": "a_1"}),
     True),
    ("dropIndexes", entry("c", "app.$cmd", {"dropIndexes": "orders", "index": "a_1"}), True),
    ("dropDatabase", entry("c", "app.$cmd", {"dropDatabase": 1}), True),
    ("command on another database", entry("c", "other.$cmd", {"drop": "orders"}), False),
    # Renames: inside, into, out of, and elsewhere.
    ("rename inside", entry("c", "app.$cmd", {"renameCollection": "app.a", "to": "app.b"}), True),
    ("rename into (admin ns)", entry("c", "admin.$cmd", {"renameCollection": "other.a", "to": "app.a"}), True),
    ("rename into (source ns)", entry("c", "other.$cmd", {"renameCollection": "other.a", "to": "app.a"}), True),
    ("rename out of (admin ns)", entry("c", "admin.$cmd", {"renameCollection": "app.a", "to": "other.a"}), True),
    ("rename out of (source ns)", entry("c", "app.$cmd", {"renameCollection": "app.a", "to": "other.a"}), True),
    ("rename elsewhere", entry("c", "admin.$cmd", {"renameCollection": "x.a", "to": "y.a"}), False),
    ("rename into a prefix-named database", entry("c", "admin.$cmd", {"renameCollection": "x.a", "to": "app2.a"}),
     False),
    # Transactions (applyOps), nested ones, and ones that touch other databases only.
    ("transaction touching it", txn(entry("i", "other.a", {"_id": 1}), entry("i", "app.a", {"_id": 2})), True),
    ("transaction elsewhere", txn(entry("i", "other.a", {"_id": 1})), False),
    ("nested applyOps", txn(txn(entry("d", "app.a", {"_id": 1}))), True),
    ("transaction with a rename into it", txn(entry("c", "admin.$cmd", {"renameCollection": "x.a", "to": "app.a"})),
     True),
    ("applyOps on the database's ns", entry("c", "app.$cmd", {"applyOps": [entry("i", "other.a", {"_id": 1})]}),
     True),
    ("partial transaction part", entry("c", "admin.$cmd", {"applyOps": [entry("i", "app.a", {"_id": 1})],
                                                           "partialTxn": True}), True),
    ("empty applyOps", entry("c", "admin.$cmd", {"applyOps": []}), False),
    ("command without o", {"ts": TS, "op": "c", "ns": "admin.$cmd"}, False),
]


@pytest.mark.parametrize(("case", "oplog_entry", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decoded_entries(case, oplog_entry, expected):
    assert belongs_to_database(oplog_entry, "app") is expected


@pytest.mark.parametrize(("case", "oplog_entry", "expected"), CASES, ids=[c[0] for c in CASES])
def test_raw_bson_entries_follow_the_same_rule(case, oplog_entry, expected):
    raw = RawBSONDocument(bson.encode(oplog_entry))
    assert belongs_to_database(raw, "app") is expected


def test_in_database():
    assert in_database("app.users", "app") and in_database("app.$cmd", "app")
    assert not in_database("app", "app") and not in_database("apps.users", "app")
    assert not in_database(None, "app") and not in_database(3, "app")

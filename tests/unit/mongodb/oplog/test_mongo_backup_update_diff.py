"""Applying oplog deltas and change-stream update descriptions."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.change_events import event_to_oplog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.update_diff import (
    apply_diff,
    diff_from_update_description,
    oplog_delta,
)

DOC = {"_id": 1, "a": 1, "sub": {"k": 1, "z": 0}, "tags": ["x", "y", "z"], "gone": True}


def test_mongod_delta_updates_inserts_deletes_and_descends():
    diff = {"d": {"gone": False}, "u": {"a": 2}, "i": {"new": 5}, "ssub": {"u": {"k": 2}, "d": {"z": False}},
            "stags": {"a": True, "l": 2, "u1": "Y"}}
    out = apply_diff(DOC, diff)
    assert out == {"_id": 1, "a": 2, "sub": {"k": 2}, "tags": ["x", "Y"], "new": 5}
    assert list(out) == ["_id", "a", "sub", "tags", "new"]  # updated fields keep their place, inserts go last
    assert DOC["a"] == 1  # the input is not modified


def test_delta_application_is_idempotent():
    diff = {"u": {"a": 2}, "i": {"new": 5}, "stags": {"a": True, "u3": "w"}, "d": {"gone": False}}
    once = apply_diff(DOC, diff)
    assert apply_diff(once, diff) == once


def test_descending_into_a_missing_subdocument_creates_it():
    assert apply_diff({"_id": 1}, {"sm": {"i": {"n": 1}}}) == {"_id": 1, "m": {"n": 1}}


def test_array_growth_pads_with_null():
    assert apply_diff({"l": [1]}, {"sl": {"a": True, "u3": 4}}) == {"l": [1, None, None, 4]}


def test_update_description_to_delta():
    description = {"updatedFields": {"tags.2": "c", "x": 1000, "sub.k": 2}, "removedFields": ["gone", "sub.z"],
                   "truncatedArrays": [{"field": "tags", "newSize": 2}]}
    diff = diff_from_update_description(description)
    out = apply_diff(DOC, diff)
    # truncation happens before element updates, as the server applies them
    assert out == {"_id": 1, "a": 1, "sub": {"k": 2}, "tags": ["x", "y", "c"], "x": 1000}


def test_disambiguated_paths_win_over_the_numeric_guess():
    description = {"updatedFields": {"m.1": "v"}, "disambiguatedPaths": {"m.1": ["m", "1"]}}
    assert apply_diff({"m": {"0": "a"}}, diff_from_update_description(description)) == {"m": {"0": "a", "1": "v"}}


def test_secantus_oplog_diffs_are_recognised():
    # SecantusDB writes the change-stream shape into its oplog ($v: 2 with updatedFields ...)
    secantus = {"updatedFields": {"a": 3}, "removedFields": [], "truncatedArrays": []}
    assert oplog_delta(secantus) == {"u": {"a": 3}}
    mongod = {"u": {"a": 3}}
    assert oplog_delta(mongod) is mongod


@pytest.mark.parametrize("event, expected", [
    ({"operationType": "insert", "ns": {"db": "d", "coll": "c"}, "fullDocument": {"_id": 1}, "documentKey": {"_id": 1}},
     {"op": "i", "ns": "d.c", "o": {"_id": 1}}),
    ({"operationType": "delete", "ns": {"db": "d", "coll": "c"}, "documentKey": {"_id": 1}},
     {"op": "d", "ns": "d.c", "o": {"_id": 1}}),
    ({"operationType": "drop", "ns": {"db": "d", "coll": "c"}}, {"op": "c", "ns": "d.$cmd", "o": {"drop": "c"}}),
    ({"operationType": "rename", "ns": {"db": "d", "coll": "c"}, "to": {"db": "d", "coll": "e"}},
     {"op": "c", "ns": "d.$cmd", "o": {"renameCollection": "d.c", "to": "d.e", "dropTarget": False}}),
])
def test_change_events_become_oplog_entries(event, expected):
    entry = event_to_oplog({**event, "clusterTime": None, "wallTime": None})
    assert {key: entry[key] for key in expected} == expected


def test_invalidate_is_not_a_change():
    assert event_to_oplog({"operationType": "invalidate"}) is None

"""position_text: positions and times as an operator reads them."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.filter.position_text import FilterModule, position_text


def test_a_cluster_time_is_spelled_with_its_utc_time():
    assert position_text({"t": 1795607061, "i": 14}) == "1795607061.14 (2026-11-25T11:44:21Z)"


def test_a_restore_summary_is_one_line_without_empty_values():
    recovered = {"postgres": {"target": "name before_release", "lsn": "0/3000858", "log": ""},
                 "mongodb": {"t": 1795607061, "i": 2}}
    assert position_text(recovered) == ("postgres: target: name before_release; lsn: 0/3000858; "
                                        "mongodb: 1795607061.2 (2026-11-25T11:44:21Z)")


def test_other_values_pass_through():
    assert position_text(None) == "-" and position_text([]) == "-" and position_text(["a", 1]) == "a, 1"
    assert position_text({"t": "x", "i": 1}) == "t: x; i: 1"  # not a cluster time: shown as a mapping
    assert FilterModule().filters()["position_text"] is position_text

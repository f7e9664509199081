"""Segment names, LSNs and timeline paths computed the way PostgreSQL does."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    TimelinePath,
    format_lsn,
    parse_history,
    parse_lsn,
    parse_segment_name,
    position_of_lsn,
    required_segments,
    segment_name,
    segment_number,
)


def test_lsn_roundtrip_and_segments():
    lsn = parse_lsn("1/A2000028")
    assert format_lsn(lsn) == "1/A2000028"
    assert segment_name(3, segment_number(lsn)) == "0000000300000001000000A2"
    assert parse_segment_name("0000000300000001000000A2") == (3, segment_number(lsn))
    assert position_of_lsn(lsn) == "00000001000000A2"
    # 64 MB segments: 64 per "log"
    assert segment_name(1, segment_number(parse_lsn("0/C000000"), 64 << 20), 64 << 20) == "000000010000000000000003"


@pytest.mark.parametrize("text", ["", "0/", "x/1", "1/2/3"])
def test_bad_lsn(text):
    with pytest.raises(RestoreError):
        parse_lsn(text)


def test_timeline_path_reads_the_new_timelines_copy_of_the_switch_segment():
    history = parse_history("1\t0/3000858\tafter point\n\n2\t0/5000100\tno recovery target specified\n")
    path = TimelinePath(3, tuple(history))
    assert path.contains(1) and path.contains(2) and not path.contains(4)
    names = required_segments(path, parse_lsn("0/2000028"), parse_lsn("0/6000000"))
    assert names == [
        "000000010000000000000002",
        "000000020000000000000003",  # holds the switch from 1 to 2: read from timeline 2
        "000000020000000000000004",
        "000000030000000000000005",  # holds the switch from 2 to 3
    ]

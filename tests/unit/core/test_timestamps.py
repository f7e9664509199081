"""core.timestamps: one ISO spelling, 'Z' for UTC, naive means UTC, round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import (
    InvalidTime,
    as_utc,
    from_epoch,
    parse_iso,
    to_iso,
    utc_now,
)


def test_utc_now_is_aware_utc():
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_to_iso_spells_utc_with_z_and_fixed_width():
    moment = datetime(2026, 11, 25, 14, 1, tzinfo=UTC)
    assert to_iso(moment) == "2026-11-25T14:01:00.000000Z"
    assert to_iso(moment, timespec="milliseconds") == "2026-11-25T14:01:00.000Z"
    assert to_iso(None) is None


def test_other_zones_are_converted_and_naive_means_utc():
    paris = datetime(2026, 11, 25, 15, 1, tzinfo=timezone(timedelta(hours=1)))
    assert to_iso(paris) == "2026-11-25T14:01:00.000000Z"
    assert to_iso(datetime(2026, 11, 25, 14, 1)) == "2026-11-25T14:01:00.000000Z"
    assert as_utc(datetime(2026, 1, 1)).tzinfo == UTC


@pytest.mark.parametrize("text", ["2026-11-25T14:01:00Z", "2026-11-25T14:01:00+00:00", "2026-11-25T15:01:00+01:00",
                                  "2026-11-25T14:01:00", " 2026-11-25T14:01:00.000Z "])
def test_parse_iso(text):
    assert parse_iso(text) == datetime(2026, 11, 25, 14, 1, tzinfo=UTC)


def test_round_trip_and_epoch():
    moment = datetime(2026, 11, 25, 14, 1, 2, 345678, tzinfo=UTC)
    assert parse_iso(to_iso(moment)) == moment
    assert from_epoch(moment.timestamp()) == moment


def test_invalid_text_is_a_dbops_error_and_a_value_error():
    with pytest.raises(InvalidTime, match="expected ISO 8601") as err:
        parse_iso("yesterday")
    assert isinstance(err.value, DbopsError) and isinstance(err.value, ValueError)

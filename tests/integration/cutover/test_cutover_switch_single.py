"""A cutover of one database only: PostgreSQL alone (no MongoDB sides, no HAProxy) and MongoDB alone (no
PgBouncer; without PostgreSQL there is no pause, the fence of the old side to the unfencing of the new one is the
MongoDB pause): switch and fallback, each side the only writable one after its move."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import run_cutover_switch
from tests.integration.cutover.estate_fixtures import after_switch, mongo_copy, prepare, state_of, switch_request
from tests.support.cutover_estate import start_estate
from tests.support.writable_sides import writable_sides

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database", ["postgres", "mongodb"])
def test_switch_and_fallback_of_one_database(tmp_path, database: str):
    with start_estate(tmp_path, postgres=database == "postgres", mongodb=database == "mongodb") as estate:
        try:
            prepare(estate)
            assert writable_sides(estate)[database] == ["blue"]
            for old, new in (("blue", "green"), ("green", "blue")):
                result = run_cutover_switch(switch_request(estate, f"to_{new}"))
                assert not result.undone, (result.slow_step, result.error)
                assert writable_sides(estate)[database] == [new]
                assert state_of(estate)["active"] == new
                if database == "postgres":
                    assert result.pause_ms is not None and result.mongodb_pause_ms is None
                    assert result.positions["reverse_lsn"] and "reverse_start" not in result.positions
                else:
                    assert result.pause_ms is None and result.mongodb_pause_ms is not None
                    assert result.positions["reverse_start"] and "fence_lsn" not in result.positions
                after_switch(estate, result, old, new)
        finally:
            if database == "mongodb":
                for source, target in (("blue", "green"), ("green", "blue")):
                    mongo_copy(estate, source, target, state="absent")

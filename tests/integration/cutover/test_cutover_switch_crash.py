"""kill -9 at every step of the switch (crash hook DBOPS_CUTOVER_CRASH_AT), under a write load through PgBouncer and
HAProxy: at the crash exactly the expected side is writable (never two), the state names the step, and a rerun
undoes the half-done switch (a crash before the commit step, unfence_new) or completes it (from the commit step
on), then switches, and loses no acknowledged write. The steps alternate directions (each rerun leaves the other
side active), all on one prepared estate."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
from tests.integration.cutover import estate_fixtures
from tests.integration.cutover.estate_fixtures import crash_then_rerun
from tests.support.cutover_estate import CutoverEstate

pytestmark = pytest.mark.slow
estate = estate_fixtures.estate  # the module's prepared estate (a fixture)


@pytest.mark.parametrize("step", steps.ORDER)
def test_kill_9_then_rerun(estate: CutoverEstate, step: str):
    crash_then_rerun(estate, step)

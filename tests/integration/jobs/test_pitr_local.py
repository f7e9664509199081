"""PITR to a recovery point, a time and an LSN, with a local directory repository, with exact row checks."""

from __future__ import annotations

from tests.integration.jobs.pitr_scenario import build_history, restore_to_each_target


def test_pitr_to_name_time_and_lsn_local(local_cluster):
    marks = build_history(local_cluster)
    restore_to_each_target(local_cluster, marks)

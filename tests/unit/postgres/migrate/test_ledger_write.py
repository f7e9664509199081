"""Every ledger write redacts its texts; the layout steps are ordered and idempotent by construction."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger_layout, ledger_write


class _Recorder:
    def __init__(self) -> None:
        self.calls = []

    def execute(self, query, params=None):
        self.calls.append((query, params))


def test_every_string_parameter_is_redacted_lists_and_dicts_too():
    target = _Recorder()
    ledger_write.write(target, "INSERT ...", (
        "run", ["CREATE ROLE a PASSWORD 'topsecret1'", "SELECT 1"], 3,
        {"s0": "ALTER USER b WITH PASSWORD 'topsecret2'", "e0": "could not connect: password=topsecret3 host=x"}))
    _statement, params = target.calls[0]
    assert "topsecret" not in repr(params)
    assert params[1][1] == "SELECT 1" and params[2] == 3


def test_layout_steps_are_consecutive_and_latest_is_the_last():
    assert [s.version for s in ledger_layout.STEPS] == list(range(1, ledger_layout.LATEST + 1))
    assert all("IF NOT EXISTS" in s.ddl for s in ledger_layout.STEPS)


def test_a_newer_layout_is_refused_and_an_older_one_lists_its_pending_steps():
    with pytest.raises(ledger_layout.LedgerLayoutTooNew, match="layout version 7"):
        ledger_layout.pending_steps(7)
    assert [s.version for s in ledger_layout.pending_steps(1)] == [2]
    assert ledger_layout.describe_pending(ledger_layout.LATEST) is None

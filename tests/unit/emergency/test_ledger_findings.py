"""Reading a migrate status result: half-applied, failed, drift, failing verification and the version before it."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.ledger_findings import ledger_findings


def entry(version: str, status: str, **parts: str) -> dict:
    return {"version": version, "status": status, "parts": parts or {"postgres": status}}


def test_no_status_means_not_read():
    found = ledger_findings({})
    assert not found.read and found.half_applied == [] and found.version_before_first_failing == "0"


def test_half_applied_sets_in_every_spelling():
    status = {"current": "1", "sets": [
        entry("1", "applied"),
        entry("2", "half_applied", postgres="applied", mongodb="failed"),
        entry("3", "pending", postgres="partial"),
        entry("4", "pending", postgres="running"),
        entry("5", "pending", postgres="failed"),
        entry("6", "pending"),
    ]}
    found = ledger_findings(status)
    assert found.read and found.current == "1"
    assert found.half_applied == ["2", "3", "4"]
    assert found.failed == ["5"]


def test_failing_verification_and_the_version_before_the_first_failing_set():
    status = {"sets": [entry("1", "applied"), entry("2", "applied"), entry("3", "applied")],
              "verification": [{"version": "1", "ok": True}, {"version": "2", "ok": False, "failures": ["x"]},
                               {"version": "3", "ok": False}],
              "warnings": ["2 (f.sql): drift: the postgres part was applied with checksum ...", "other"]}
    found = ledger_findings(status)
    assert found.failing_verification == ["2", "3"]
    assert found.version_before_first_failing == "1"
    assert found.drift == ["2 (f.sql): drift: the postgres part was applied with checksum ..."]


def test_the_first_set_failing_goes_back_to_zero():
    status = {"sets": [entry("1", "applied")], "verification": [{"version": "1", "ok": False}]}
    assert ledger_findings(status).version_before_first_failing == "0"

"""What the ledgers say, read from a `migrate state=status verify_applied=true` result (its returned dict).

Half-applied sets (a part partial or running, or one part applied and another not), failed sets (a set that
failed inside its transaction left nothing behind: reported, nothing to repair), drift (reported as the engine's
warnings with allow_drift) and the verification of every applied set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HALF_DONE_PARTS = ("partial", "running")


@dataclass
class LedgerFindings:
    current: str = "0"
    applied: list[str] = field(default_factory=list)
    half_applied: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    verification: list[dict[str, Any]] = field(default_factory=list)
    failing_verification: list[str] = field(default_factory=list)
    version_before_first_failing: str = "0"
    read: bool = False  # False: no status was given (no migrations_dir), nothing is known about the ledgers


def _is_half_applied(entry: dict[str, Any]) -> bool:
    parts = list((entry.get("parts") or {}).values())
    if entry.get("status") == "half_applied" or any(p in HALF_DONE_PARTS for p in parts):
        return True
    return "applied" in parts and any(p != "applied" for p in parts)


def ledger_findings(status: dict[str, Any] | None) -> LedgerFindings:
    if not status:
        return LedgerFindings()
    sets = [entry for entry in status.get("sets") or [] if entry.get("version")]
    found = LedgerFindings(current=str(status.get("current", "0")), read=True)
    found.applied = [str(e["version"]) for e in sets if e.get("status") == "applied"]
    found.half_applied = [str(e["version"]) for e in sets if _is_half_applied(e)]
    found.failed = [str(e["version"]) for e in sets
                    if "failed" in (e.get("parts") or {}).values() and str(e["version"]) not in found.half_applied]
    found.drift = [w for w in status.get("warnings") or [] if "drift:" in str(w)]
    found.verification = list(status.get("verification") or [])
    failing = {str(v["version"]) for v in found.verification if not v.get("ok", True)}
    found.failing_verification = [v for v in found.applied if v in failing]
    if found.failing_verification:
        index = found.applied.index(found.failing_verification[0])
        found.version_before_first_failing = found.applied[index - 1] if index > 0 else "0"
    return found

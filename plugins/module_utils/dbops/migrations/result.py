"""The record a run returns; the `migrate` module returns it as JSON (to_dict).

Everything that leaves a run goes through this file's two exits, to_dict() and attach_to(error), and both pass it
through core.secrets: statements quoting CREATE ROLE ... PASSWORD, a driver error quoting a DSN, a plan entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact, redact_value


@dataclass
class SetOutcome:
    """What happened to one set in this run."""

    version: str
    name: str
    action: str  # apply | resume | rollback | compensate
    parts: dict[str, str] = field(default_factory=dict)  # part name -> status after the run
    status: str = "pending"  # applied | rolled_back | compensated | failed | planned
    duration_ms: int = 0
    error: str | None = None
    # One record per validate: rule checked (migrations/validation/rule_result.RuleResult.to_dict)
    validation: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunResult:
    changed: bool = False
    applied: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    current: str = "0"
    plan: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    before: str = "0"
    after: str = "0"
    warnings: list[str] = field(default_factory=list)
    format: str = "native"
    # What was taken over from another migration tool's history (see migrations/baseline.py: Baseline.to_dict).
    baseline: dict[str, Any] = field(default_factory=dict)
    # state=status with verify_applied: per applied set, {version, ok, failures, rules}.
    verification: list[dict[str, Any]] = field(default_factory=list)
    # Set when the run failed part-way; the engine raises, but callers that catch it still see what was done.
    failed: str | None = None
    # Passwords of the run's connection strings: masked wherever they appear, even outside a URI. Never returned.
    known_secrets: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["known_secrets"]
        return redact_value(data, self.known_secrets)

    def attach_to(self, error: DbopsError) -> DbopsError:
        """The run's error with its message redacted and this result attached (error.result)."""
        error.message = redact(error.message, self.known_secrets)
        if error.path is not None:
            error.path = redact(error.path, self.known_secrets)
        error.args = (str(error),)
        error.result = self
        return error

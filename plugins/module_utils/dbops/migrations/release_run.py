"""A whole release in one engine call: plan, lint, the approval decision and apply (or roll back), then, when it
failed, the compensation and a fresh look at the ledgers. What the role `migrate` runs, once per host.

The lint and the approval are the engine's plan gate (engine.run(gate=...)): they see the plan the run is about
to execute, under its runner lock, before anything is written; so the plan is made once, not once for a check-mode
precheck and again for the apply. The record says which phase the run reached, for the report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ApprovalRequired, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.engine import run
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import PartExecutor
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import RunResult
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import RunRequest
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.squawk_lint import (
    LintSettings,
    lint,
    refuse_blocking,
)

PRECHECK = "precheck"
LINT = "lint"
APPROVAL = "approval"
# The phase that changes the databases is named after the operation, as the role names it.
CHANGE_PHASE = {"applied": "apply", "rolled_back": "rollback", "status": "status"}


@dataclass(frozen=True)
class ReleaseSettings:
    lint: LintSettings | None = None  # None: no lint
    # Not empty: the run has no approval and must not change anything; the refusal's text.
    refuse_changes: str = ""
    rollback_on_failure: bool = False


@dataclass
class Compensation:
    """The rollback to the version the run started from, after a failed apply (rollback_on_failure)."""

    performed: bool = False
    rolled_back: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class ReleaseRecord:
    phase: str = PRECHECK  # the phase reached; on failure, the one that failed
    before: str | None = None  # None until the plan is made
    pending: list[str] = field(default_factory=list)  # pending when planned
    lint_findings: list[dict[str, Any]] = field(default_factory=list)
    compensation: Compensation = field(default_factory=Compensation)
    # After a failure of the change phase: {current, pending} as the ledgers were read again (None: unreadable).
    after_failure: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def postgres_sources(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The forward SQL of the PostgreSQL parts the plan applies, as the engine described it in each plan entry."""
    return [{"version": step["version"], **step["postgres_source"]} for step in plan
            if step.get("action") in ("apply", "resume") and step.get("postgres_source")]


class ReleaseRun:
    """One release; run() returns the engine's result or raises its error, record says how far it got."""

    def __init__(self, request: RunRequest, settings: ReleaseSettings, *,
                 executors: dict[str, PartExecutor] | None = None) -> None:
        self.request = request
        self.settings = settings
        self.executors = executors  # None: the real ones (engine.build_executors); tests pass fakes
        self.record = ReleaseRecord()

    def run(self) -> RunResult:
        try:
            return run(self.request, executors=self.executors, gate=self._gate)
        except DbopsError:
            if self.record.phase in ("apply", "rollback"):
                self._compensate()
                self._read_ledgers()
            raise

    def _gate(self, planned: RunResult) -> None:
        self.record.before = planned.before
        self.record.pending = list(planned.pending)
        sources = postgres_sources(planned.plan) if self.request.state == "applied" else []
        if self.settings.lint is not None and sources:
            self.record.phase = LINT
            report = lint(sources, self.settings.lint)
            self.record.lint_findings = report.findings
            refuse_blocking(report)
        self.record.phase = APPROVAL
        if self.settings.refuse_changes and planned.plan:
            versions = ", ".join(dict.fromkeys(str(step["version"]) for step in planned.plan))
            raise ApprovalRequired(f"{self.settings.refuse_changes} (the run would change {versions})")
        self.record.phase = CHANGE_PHASE[self.request.state]

    def _compensate(self) -> None:
        """Roll back the sets this run applied before the failed one (the failed set undid itself)."""
        if not (self.settings.rollback_on_failure and self.request.state == "applied" and not self.request.check_mode
                and self.record.before is not None):
            return
        self.record.compensation.performed = True
        back = dataclasses.replace(self.request, state="rolled_back", target=self.record.before)
        try:
            self.record.compensation.rolled_back = list(run(back, executors=self.executors).rolled_back)
        except DbopsError as exc:
            self.record.compensation.error = str(exc)
            if exc.result is not None:
                self.record.compensation.rolled_back = list(exc.result.rolled_back)

    def _read_ledgers(self) -> None:
        """Where the databases stand now; the database may be what failed, and then this says nothing."""
        status = dataclasses.replace(self.request, state="status", target="latest", check_mode=False,
                                     verify_applied=False)
        try:
            now = run(status, executors=self.executors)
        except DbopsError:
            return
        self.record.after_failure = {"current": now.current, "pending": list(now.pending)}

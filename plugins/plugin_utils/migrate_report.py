# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The summary of one run of the role `migrate` (migrate.yml or rollback.yml) on one host: the JSON report's content.

Built on the controller by the action plugin `migrate` from the module's result (or, for a phase outside the module,
the role's backup for instance, from the failure the role hands over) and what the role tells about the run.
The HTML page (the role's templates/report.html.j2) shows the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Phases that end before the approval is recorded: the report then says "not approved", whatever was asked.
_BEFORE_APPROVAL = ("precheck", "lint", "approval")
_CHANGE_PHASES = ("apply", "rollback")


@dataclass
class ReportRequest:
    """What the role passes in the task's `report` option."""

    directory: str
    html: bool = True
    template: str = "report.html.j2"
    operation: str = "apply"
    environment: str = "default"
    target: str = "latest"
    started: str = ""
    stamp: str = ""
    lint_fail_on: list[str] = field(default_factory=list)
    approval: dict[str, Any] = field(default_factory=dict)
    rollback_on_failure: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    # A phase outside the module failed (the role's input checks, the backup): {phase, error}; the module is not run.
    failure: dict[str, Any] | None = None

    @classmethod
    def from_option(cls, option: dict[str, Any]) -> ReportRequest:
        now = datetime.now(UTC)
        return cls(
            directory=str(option["dir"]), html=bool(option.get("html", True)),
            template=str(option.get("template") or "report.html.j2"),
            operation=str(option.get("operation") or "apply"), environment=str(option.get("environment") or "default"),
            target=str(option.get("target", "latest")),
            started=str(option.get("started") or now.isoformat()),
            stamp=str(option.get("stamp") or now.strftime("%Y%m%dT%H%M%SZ")),
            lint_fail_on=list(option.get("lint_fail_on") or []), approval=dict(option.get("approval") or {}),
            rollback_on_failure=bool(option.get("rollback_on_failure", False)),
            settings=dict(option.get("settings") or {}), failure=option.get("failure") or None)

    def path_stem(self, host: str) -> str:
        return f"{self.directory}/{self.operation}-{self.environment}-{host}-{self.stamp}"


def validation_results(result: dict[str, Any], check_mode: bool) -> list[dict[str, Any]]:
    """Every `validate:` rule checked (or, in check mode, planned), with the version of its set."""
    entries = result.get("plan") if check_mode else result.get("sets")
    return [{"version": entry.get("version"), **rule}
            for entry in entries or [] for rule in entry.get("validation") or []]


def planned_sets(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sets a check-mode run would apply or roll back, as rows of the report's sets table (status planned)."""
    return [{"version": entry.get("version"), "name": entry.get("name"), "action": entry.get("action"),
             "phase": entry.get("phase"), "status": "planned",
             "parts": {part: f"would {entry.get('action') or 'apply'}" for part in entry.get("parts") or []},
             "statements": sum(len(statements or []) for statements in (entry.get("statements") or {}).values())}
            for entry in plan]


def summary(request: ReportRequest, result: dict[str, Any], *, host: str, check_mode: bool) -> dict[str, Any]:
    """The report of the run whose module result is `result` (a failed one too)."""
    failure = request.failure or {}
    failed = bool(failure) or bool(result.get("failed"))
    phase = str(failure.get("phase") or result.get("phase") or "precheck") if failed else ""
    before = result.get("planned_before") or "unknown"
    after_failure = result.get("after_failure") or {}
    if not failed:
        after = result.get("after", "")
    elif "current" in after_failure:
        after = after_failure["current"]
    else:
        after = before if phase not in _CHANGE_PHASES else "unknown"
    compensation = result.get("compensation") or {}
    # A phase outside the module failed: the result is the plan made before it, nothing was run.
    done = {} if failure else result
    # Check mode applies nothing: what the module calls applied (or rolled back) is only planned.
    planned = [str(entry.get("version")) for entry in result.get("plan") or []] if check_mode and not failure else []
    approval = {"required": False, "approved": False, **request.approval}
    if failed and phase in _BEFORE_APPROVAL:
        approval = {"required": bool(approval.get("required", False)), "approved": False}
    return {
        "tool": "sevenp.dbops",
        "operation": request.operation,
        "environment": request.environment,
        "host": host,
        "target": request.target,
        "check_mode": check_mode,
        "started": request.started,
        "finished": datetime.now(UTC).isoformat(),
        "status": "failed" if failed else ("planned" if check_mode else "succeeded"),
        "failed_phase": phase,
        "error": str(failure.get("error") or result.get("msg") or "") if failed else "",
        "before": before,
        "after": after,
        "changed": bool(done.get("changed", False)),
        "applied": [] if check_mode else list(done.get("applied") or []),
        "rolled_back": [] if check_mode else list(done.get("rolled_back") or []),
        "planned": planned,
        "pending": list(after_failure.get("pending", result.get("pending") or [])),
        "plan": list(result.get("plan") or []),
        "sets": planned_sets(list(done.get("plan") or [])) if check_mode else list(done.get("sets") or []),
        "queries": list(done.get("queries") or []),
        "validation": validation_results(done, check_mode),
        "lint": {"findings": list(result.get("lint_findings") or []), "fail_on": request.lint_fail_on},
        "approval": approval,
        "rollback_on_failure": {
            "enabled": request.rollback_on_failure,
            "performed": bool(compensation.get("performed", False)),
            "rolled_back": list(compensation.get("rolled_back") or []),
            "error": str(compensation.get("error") or ""),
        },
        "settings": request.settings,
    }


def summary_json(report: dict[str, Any]) -> str:
    """As the role's to_nice_json(indent=2) wrote it: sorted keys, two spaces, non-ASCII kept."""
    return json.dumps(report, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"

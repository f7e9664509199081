"""squawk (https://squawkhq.com) on the forward SQL of the PostgreSQL parts a run applies; its rules are not
reimplemented here. Every finding is returned; findings of the rules in fail_on stop the run before anything changes.

squawk reads the files itself, in at most two runs: the parts the engine runs in one transaction are linted as such
(--assume-in-transaction), the others not. A part whose file also holds its down section (dbmate) is linted from
its forward SQL on stdin instead (migrations/lint_sources.postgres_source says which).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import LintFailed

# The engine runs squawk itself (it has no AnsibleModule and its run_command), so ansible-test's advice to use
# run_command does not apply here.
# pylint: disable=ansible-bad-function


@dataclass(frozen=True)
class LintSettings:
    executable: str = "squawk"
    fail_on: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    pg_version: str = ""


@dataclass(frozen=True)
class SquawkCall:
    """One squawk invocation: its arguments, and the SQL it reads on stdin (None: it reads the files named)."""

    label: str
    argv: list[str]
    stdin: str | None = None


@dataclass
class LintReport:
    findings: list[dict[str, Any]] = field(default_factory=list)

    def blocking(self) -> list[dict[str, Any]]:
        return [finding for finding in self.findings if finding["blocking"]]


def squawk_calls(sources: list[dict[str, Any]], settings: LintSettings) -> list[SquawkCall]:
    """The invocations that lint every source: files grouped by transaction mode, then one per stdin source."""
    common = [settings.executable, "--reporter", "json", *(f"--exclude={rule}" for rule in settings.exclude)]
    if settings.pg_version:
        common.append(f"--pg-version={settings.pg_version}")
    files = [source for source in sources if source.get("sql") is None]
    calls = []
    in_transaction = [source["path"] for source in files if source["transactional"]]
    if in_transaction:
        calls.append(SquawkCall("parts run in one transaction", [*common, "--assume-in-transaction", *in_transaction]))
    statement_wise = [source["path"] for source in files if not source["transactional"]]
    if statement_wise:
        calls.append(SquawkCall("parts run statement by statement", [*common, *statement_wise]))
    for source in sources:
        if source.get("sql") is not None:
            flags = ["--assume-in-transaction"] if source["transactional"] else []
            calls.append(SquawkCall(f"{source['version']} {source['path']}",
                                    [*common, "--stdin-filepath", source["path"], *flags], source["sql"]))
    return calls


def _findings(call: SquawkCall) -> list[dict[str, Any]]:
    try:
        done = subprocess.run(call.argv, input=call.stdin, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise LintFailed(f"squawk could not be started ({call.argv[0]}): {exc.strerror or exc}") from exc
    # squawk exits 1 when it has findings; anything else is squawk itself failing.
    if done.returncode not in (0, 1) or not done.stdout.strip().startswith("["):
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise LintFailed(f"squawk failed on the {call.label} (exit {done.returncode}): {tail}")
    return json.loads(done.stdout)


def lint(sources: list[dict[str, Any]], settings: LintSettings) -> LintReport:
    """Every finding, with the version of its set and whether its rule fails the run (blocking)."""
    versions = {source["path"]: source["version"] for source in sources}
    report = LintReport()
    for call in squawk_calls(sources, settings):
        for finding in _findings(call):
            report.findings.append({**finding, "version": versions.get(finding.get("file"), "?"),
                                    "blocking": finding.get("rule_name") in settings.fail_on})
    return report


def refuse_blocking(report: LintReport) -> None:
    """Raises LintFailed naming every finding of a rule in fail_on."""
    blocking = report.blocking()
    if blocking:
        listed = "; ".join(f"{f['version']} ({f.get('file')}:{int(f.get('line') or 0) + 1}): {f.get('rule_name')}: "
                           f"{f.get('message')}" for f in blocking)
        raise LintFailed(f"squawk found {len(blocking)} problem(s) of the rules that fail the run (fail_on): {listed}")

"""Applying and undoing sets part by part across databases, with compensation when a step fails.

Generic over PartExecutors: it knows the order (PostgreSQL part, MongoDB part, then both validations; undo in
reverse), not how a part is applied. It only sees executors through PartBoundary, so every failure of a part is a
DbopsError and the compensation below always runs, whatever the driver raised.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    DbopsError,
    IrreversibleMigration,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.lint_sources import postgres_source
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_boundary import PartBoundary
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    PARTIAL,
    ROLLED_BACK,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.planner import PlannedAction
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import SetOutcome
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.evaluation import (
    RuleEvaluation,
    failures,
    not_run,
    raise_on_failure,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.object_check import (
    check_named_objects,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import POST, PRE


def _with_note(exc: DbopsError, note: str) -> DbopsError:
    """The same kind of error with a note about what the compensation did."""
    new = type(exc)(f"{exc.message}; {note}", version=exc.version, path=exc.path)
    new.__cause__ = exc
    return new


class Coordinator:
    def __init__(self, executors: dict[str, PartBoundary], opts: RunOptions, queries: list[str]) -> None:
        self.executors = executors
        self.opts = opts
        self.queries = queries

    def _executor(self, part: str, mset: MigrationSet) -> PartBoundary:
        executor = self.executors.get(part)
        if executor is None:
            hint = " (give mongodb_uri and mongodb_database)" if part == "mongodb" else " (give postgres_dsn)"
            raise DbopsError(f"the set has a {part} part but no {part} connection was given{hint}",
                             version=mset.version, path=mset.path)
        return executor

    # ---- before anything changes -------------------------------------------------------------------------------

    def preflight(self, actions: list[PlannedAction]) -> list[dict[str, Any]]:
        """Plan every action and run every pre-flight check (destructive guard, reversibility, what the
        validation rules name) up front."""
        check_named_objects([(a.migration_set, a.action == "resume") for a in actions
                             if a.action in ("apply", "resume")], self._object_lookup)
        plan: list[dict[str, Any]] = []
        for action in actions:
            mset = action.migration_set
            steps: dict[str, list[str]] = {}
            for part in action.parts:
                executor = self._executor(part, mset)
                if action.action in ("apply", "resume"):
                    steps[part] = executor.plan_apply(mset, self.opts)
                else:
                    executor.ensure_reversible(mset)
                    steps[part] = executor.plan_rollback(mset, self.opts)
            if action.action in ("apply", "resume"):
                # Validations of every part run after the set is applied; resuming needs them all too.
                for part in mset.parts():
                    self._executor(part, mset)
            plan.append({
                "version": mset.version,
                "name": mset.name,
                "description": mset.manifest.description,
                "phase": mset.manifest.phase,
                "action": action.action,
                "parts": list(action.parts),
                "statements": steps,
                # What a linter needs to judge the forward SQL, so nobody has to discover the sets again.
                "postgres_source": (postgres_source(mset) if action.action in ("apply", "resume")
                                    and "postgres" in action.parts else None),
                "validation": self._planned_rules(action, first=not plan),
            })
        return plan

    # ---- doing it ----------------------------------------------------------------------------------------------

    def run(self, action: PlannedAction) -> SetOutcome:
        if action.action in ("apply", "resume"):
            return self.apply_set(action)
        if action.action == "rollback":
            return self.rollback_set(action, "rollback")
        if action.action == "compensate":
            return self.rollback_set(action, "compensate")
        raise DbopsError(f"unknown action {action.action}", version=action.version)

    def apply_set(self, action: PlannedAction) -> SetOutcome:
        mset = action.migration_set
        outcome = SetOutcome(version=mset.version, name=mset.name, action=action.action,
                             parts={p: (APPLIED if p not in action.parts else "pending") for p in mset.parts()})
        started = time.monotonic()
        rules = self._rules(mset)
        try:
            before = self._pre_rules(action, rules, outcome)
            for part in (p for p in ("postgres", "mongodb") if p in action.parts):
                try:
                    self._executor(part, mset).apply(mset, self.opts, self.queries)
                except DbopsError:
                    outcome.parts[part] = "failed"
                    raise
                outcome.parts[part] = APPLIED
            for name in mset.parts():
                self._executor(name, mset).validate(mset, self.opts)
            if rules is not None:  # a failed post rule fails the set: compensated below like any failure
                results = rules.run(POST, before)
                outcome.validation.extend(r.to_dict() for r in results)
                raise_on_failure(mset, results, POST)
        except DbopsError as exc:
            outcome.duration_ms = int((time.monotonic() - started) * 1000)
            outcome.status = "failed"
            note = self._compensate(mset, [p for p in mset.parts() if outcome.parts[p] == APPLIED], outcome,
                                    exc.message)
            error = _with_note(exc, note) if note else exc
            outcome.error = str(error)
            error.outcome = outcome
            if error is exc:
                raise
            raise error from exc
        outcome.status = APPLIED
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def _rules(self, mset: MigrationSet) -> RuleEvaluation | None:
        """The set's validation rules, reading each database through its part boundary."""
        if not mset.manifest.rules:
            return None
        databases = {db for rule in mset.manifest.rules for db in rule.databases()}
        checkers = {db: self._executor(db, mset).rule_checker(mset) for db in sorted(databases)}
        return RuleEvaluation(mset, checkers, check_mode=self.opts.check_mode)

    def _object_lookup(self, database: str) -> Any:
        """The database's validation reads, to look up what rules name; None without a connection to it."""
        executor = self.executors.get(database)
        return None if executor is None else executor.rule_checker(None)

    def _planned_rules(self, action: PlannedAction, *, first: bool) -> list[dict[str, Any]]:
        """Check mode: the first set's pre rules are checked (they only read); post rules, and the pre rules of
        later sets, would only judge a state the run has not made yet: listed as not run."""
        mset = action.migration_set
        if not self.opts.check_mode or action.action != "apply" or not mset.manifest.rules:
            return []
        if first:
            rules = self._rules(mset)
            if not (rules is not None):
                raise AssertionError("the rule parser guarantees rules is not None")
            pre = rules.run(PRE, None)
        else:
            pre = not_run(mset, PRE, "runs once the sets before it are applied", check_mode=True)
        post = not_run(mset, POST, "runs after the set is applied", check_mode=True)
        failed = failures(pre)
        if failed:
            self.opts.warnings.append(f"{mset.version}: a real run would stop before this set: " + "; ".join(failed))
        return [r.to_dict() for r in pre + post]

    @staticmethod
    def _pre_rules(action: PlannedAction, rules: RuleEvaluation | None, outcome: SetOutcome) -> dict[int, int] | None:
        """Pre rules (a failure stops the set before anything changed) and the row counts post rules compare
        with. A resumed set has changed already: neither is meaningful then (its row_count rules are reported as
        not comparable)."""
        if rules is None or action.action != "apply":
            return None
        results = rules.run(PRE, None)
        outcome.validation.extend(r.to_dict() for r in results)
        raise_on_failure(rules.mset, results, PRE)
        return rules.counts_before()

    def _compensate(self, mset: MigrationSet, applied_parts: list[str], outcome: SetOutcome, cause: str) -> str:
        """Undo the set's applied parts in reverse order; returns a note on what happened ('' if nothing to do)."""
        if not applied_parts:
            return ""
        notes = []
        for part in reversed(applied_parts):
            executor = self._executor(part, mset)
            try:
                executor.ensure_reversible(mset)
                executor.rollback(mset, self.opts, self.queries)
            except DbopsError as exc:
                outcome.parts[part] = "compensation_failed"
                reason = exc.message if isinstance(exc, IrreversibleMigration) else str(exc)
                notes.append(f"{part} part could NOT be compensated ({reason})")
                try:
                    executor.record_status(mset, PARTIAL, error=f"compensation failed: {reason}")
                except DbopsError as record_exc:  # the ledger may be unreachable too; the error says enough
                    notes.append(f"recording it failed: {record_exc}")
                continue
            outcome.parts[part] = ROLLED_BACK
            notes.append(f"{part} part compensated (rolled back)")
            try:  # the ledger says why this part was rolled back
                executor.record_status(mset, ROLLED_BACK, error=f"compensated: the set failed: {cause}")
            except DbopsError as record_exc:
                notes.append(f"recording the compensation failed: {record_exc}")
        return "; ".join(notes)

    def rollback_set(self, action: PlannedAction, kind: str) -> SetOutcome:
        mset = action.migration_set
        outcome = SetOutcome(version=mset.version, name=mset.name, action=kind,
                             parts={p: ("pending" if p in action.parts else "absent") for p in mset.parts()})
        started = time.monotonic()
        for part in action.parts:  # already in undo order
            try:
                self._executor(part, mset).rollback(mset, self.opts, self.queries)
            except DbopsError as exc:
                outcome.parts[part] = "failed"
                outcome.status = "failed"
                outcome.duration_ms = int((time.monotonic() - started) * 1000)
                outcome.error = str(exc)
                done = [p for p in action.parts if outcome.parts[p] == ROLLED_BACK]
                note = f"already rolled back: {', '.join(done)}" if done else ""
                error = _with_note(exc, note) if note else exc
                error.outcome = outcome
                if error is exc:
                    raise
                raise error from exc
            outcome.parts[part] = ROLLED_BACK
        outcome.status = ROLLED_BACK if kind == "rollback" else "compensated"
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        return outcome

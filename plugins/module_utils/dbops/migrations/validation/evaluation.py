"""Checking a set's rules, in their order: `pre` rules before the set's first part, `post` rules after its last
(with the row counts taken before the first part for post row_count rules). Every rule only reads.

Database-neutral: each database's reads come from its RuleChecker (rule_checker.py), handed in by the
coordinator through the part boundary; no_orphans and matches combine reads of either database here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.canonical import key_text
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.content_match import compare
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rule_checker import (
    Offenders,
    RuleChecker,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rule_result import (
    FAILED,
    NOT_COMPARABLE,
    NOT_RUN,
    RuleResult,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    MAX_EXAMPLES,
    POST,
    Field,
    ValidationRule,
)


def set_rules(mset: MigrationSet, phase: str | None = None) -> list[ValidationRule]:
    """The set's rules (of one phase), in the order written."""
    return [r for r in mset.manifest.rules if phase is None or r.phase == phase]


def missing_databases(mset: MigrationSet, available: set[str]) -> list[str]:
    """Databases the set's rules read that the run has no connection to."""
    needed = {db for rule in set_rules(mset) for db in rule.databases()}
    return sorted(needed - available)


def failures(results: list[RuleResult]) -> list[str]:
    return [r.failure() for r in results if not r.ok]


def raise_on_failure(mset: MigrationSet, results: list[RuleResult], phase: str) -> None:
    problems = failures(results)
    if problems:
        raise ValidationFailed(f"{len(problems)} {phase} validation rule(s) failed: " + "; ".join(problems),
                               version=mset.version, path=mset.manifest.path)


def not_run(mset: MigrationSet, phase: str, why: str, *, check_mode: bool) -> list[RuleResult]:
    """Results for rules that were deliberately not evaluated (check mode)."""
    return [RuleResult(index=r.index, kind=r.kind, phase=r.phase, target=r.describe(), status=NOT_RUN,
                       message=why, check_mode=check_mode, name=r.name) for r in set_rules(mset, phase)]


class RuleEvaluation:
    def __init__(self, mset: MigrationSet, checkers: dict[str, RuleChecker], *, check_mode: bool) -> None:
        self.mset = mset
        self.checkers = checkers
        self.check_mode = check_mode

    def counts_before(self) -> dict[int, int]:
        """Rows of each post row_count rule's target, before the set changes anything."""
        return {r.index: self.checkers[r.target.database].count(r.target, r.paging)
                for r in set_rules(self.mset, POST) if r.kind == "row_count" and r.target is not None}

    def run(self, phase: str, before: dict[int, int] | None) -> list[RuleResult]:
        """Every rule of the phase, each to its result (a failed rule does not stop the others)."""
        return [self._one(rule, before) for rule in set_rules(self.mset, phase)]

    def _one(self, rule: ValidationRule, before: dict[int, int] | None) -> RuleResult:
        result = RuleResult(index=rule.index, kind=rule.kind, phase=rule.phase, target=rule.describe(),
                            check_mode=self.check_mode, name=rule.name)
        if rule.kind == "row_count":
            self._row_count(rule, result, before)
        elif rule.kind == "no_orphans":
            self._record(result, self._orphans(rule), "value(s) with no matching reference")
        elif rule.kind == "matches":
            self._matches(rule, result)
        else:
            checker = self.checkers[rule.databases()[0]]
            found = self._single(rule, checker)
            self._record(result, found, _OFFENDING[rule.kind])
        return result

    # ---- kinds ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _single(rule: ValidationRule, checker: RuleChecker) -> Offenders:
        if not (rule.target is not None):
            raise AssertionError("the rule parser guarantees rule.target is not None")
        if rule.kind == "not_null":
            return checker.nulls(rule.target, rule.fields, rule.paging)
        if rule.kind == "unique":
            return checker.duplicates(rule.target, rule.fields, rule.paging)
        return checker.custom(rule)

    @staticmethod
    def _record(result: RuleResult, found: Offenders, what: str) -> None:
        result.checked, result.offending, result.examples = found.checked, found.offending, found.examples[
            :MAX_EXAMPLES]
        if found.offending:
            result.ok, result.status = False, FAILED
            result.message = f"{found.offending} {what}"
        else:
            result.message = f"{found.checked} checked, none offending" if found.checked >= 0 else "none offending"

    def _row_count(self, rule: ValidationRule, result: RuleResult, before: dict[int, int] | None) -> None:
        if not (rule.target is not None):
            raise AssertionError("the rule parser guarantees rule.target is not None")
        after = self.checkers[rule.target.database].count(rule.target, rule.paging)
        result.after = result.checked = after
        problems = []
        if rule.minimum is not None and after < rule.minimum:
            problems.append(f"{after} rows, fewer than min {rule.minimum}")
        if rule.maximum is not None and after > rule.maximum:
            problems.append(f"{after} rows, more than max {rule.maximum}")
        previous = None if before is None else before.get(rule.index)
        if rule.phase == POST and previous is None:
            result.message = "no figure from before the set to compare with"
            if not problems:
                result.status = NOT_COMPARABLE
        elif rule.phase == POST and previous is not None:
            result.before = previous
            change = after - previous
            allowed = rule.tolerance if rule.tolerance_pct is None else math.ceil(previous * rule.tolerance_pct / 100)
            if abs(change - rule.expected_change) > allowed:
                problems.append(f"changed by {change:+d} ({previous} -> {after}); expected {rule.expected_change:+d}"
                                f" +/- {allowed}")
            result.message = f"changed by {change:+d} ({previous} -> {after})"
        if problems:
            result.ok, result.status, result.message = False, FAILED, "; ".join(problems)
        elif not result.message:
            result.message = f"{after} rows"

    def _rows(self, side: Field, fields: tuple[str, ...], paging: Any) -> Iterator[tuple[str, tuple[Any, ...]]]:
        checker, after = self.checkers[side.target.database], None
        while True:
            page = checker.page(side.target, fields, after, paging)
            yield from page.rows
            if page.after is None:
                return
            after = page.after

    def _orphans(self, rule: ValidationRule) -> Offenders:
        if not (rule.source is not None and rule.reference is not None):
            raise AssertionError("the rule parser guarantees rule.source is not None and rule.reference is not None")
        found = Offenders()
        batch: list[tuple[str, Any]] = []

        def flush() -> None:
            known = self.checkers[ref.target.database].existing(ref.target, ref.name, [v for _k, v in batch],
                                                                rule.paging)
            for key, value in batch:
                if key_text(value) not in known:
                    found.offending += 1
                    if len(found.examples) < MAX_EXAMPLES:
                        found.examples.append(key_text(key))
            batch.clear()

        ref = rule.reference
        for key, values in self._rows(rule.source, (rule.source.name,), rule.paging):
            found.checked += 1
            if values[0] is not None:
                batch.append((key, values[0]))
            if len(batch) >= rule.paging.batch_size:
                flush()
        if batch:
            flush()
        return found

    def _matches(self, rule: ValidationRule, result: RuleResult) -> None:
        if not (rule.source is not None and rule.reference is not None):
            raise AssertionError("the rule parser guarantees rule.source is not None and rule.reference is not None")

        def rows(side: Field) -> Iterator[tuple[str, Any]]:
            # The shared key is a column / field of its own: a collection is paged by _id, not by it.
            for _key, values in self._rows(side, (side.target.key[0], side.name), rule.paging):
                yield values[0], values[1]

        outcome = compare(rule.source, rule.reference, rows)
        result.checked = outcome.left.count
        counts = f"postgres {outcome.left.count} rows (hash {outcome.left.content_hash()}), mongodb " \
                 f"{outcome.right.count} documents (hash {outcome.right.content_hash()})"
        if outcome.equal:
            result.message = f"same content: {counts}"
            return
        result.ok, result.status = False, FAILED
        result.offending, result.examples = outcome.differing_count, outcome.differing
        bound = "" if outcome.complete else "at least "
        result.message = f"content differs: {counts}; {bound}{outcome.differing_count} key(s) differ"


_OFFENDING = {
    "not_null": "row(s) with a null or missing value",
    "unique": "row(s) sharing their values with another",
    "json_schema": "document(s) not matching the schema",
    "sql": "row(s) returned by the query (it must return none)",
    "mongodb": "document(s) matching the filter (it must match none)",
}

"""state=status with verify_applied: every applied set checked again, reading only.

Per applied set: each part's own verification (the PostgreSQL part's verify SQL in a READ ONLY transaction that is
rolled back, the MongoDB part's validation) and the set's post validation rules (a row_count rule has no "before"
figure here: it is reported as not comparable, not as failed). Every read goes through the part boundary, so a
driver error is the engine's error naming the set. The emergency response's damage assessment reads this.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_boundary import PartBoundary
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.evaluation import (
    RuleEvaluation,
    failures,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import POST


def verify_applied(parts: dict[str, PartBoundary], sets: list[MigrationSet], *, check_mode: bool
                   ) -> list[dict[str, Any]]:
    return [_verify_set(parts, mset, check_mode) for mset in sets]


def _verify_set(parts: dict[str, PartBoundary], mset: MigrationSet, check_mode: bool) -> dict[str, Any]:
    problems: list[str] = []
    checkers: dict[str, Any] = {}
    for part in mset.parts():
        boundary = parts.get(part)
        if boundary is None:
            problems.append(f"{part}: not checked (no {part} connection given)")
            continue
        try:
            checkers[part] = boundary.rule_checker(mset)
            failure = checkers[part].verify_set(mset, check_mode)
        except DbopsError as exc:
            failure = f"could not verify: {exc.message}"
        if failure:
            problems.append(f"{part}: {failure}")
    rules: list[dict[str, Any]] = []
    if mset.manifest.rules:
        for database in {db for rule in mset.manifest.rules for db in rule.databases()} - set(checkers):
            if database in parts:
                checkers[database] = parts[database].rule_checker(mset)
        missing = sorted({db for rule in mset.manifest.rules for db in rule.databases()} - set(checkers))
        if missing:
            problems.append(f"validation rules not checked: no {', '.join(missing)} connection given")
        else:
            results = RuleEvaluation(mset, checkers, check_mode=check_mode).run(POST, None)
            rules = [result.to_dict() for result in results]
            problems += failures(results)
    return {"version": mset.version, "ok": not problems, "failures": problems, "rules": rules}

"""The recovery strategy of an emergency, chosen from the assessment by explicit rules, in order (pure function).

The rules and why they come in this order are in docs/emergency.md ("Choosing the strategy"); each rule has an id
the incident report quotes, so an operator can see which one fired and why.

1. wide damage -> full point-in-time recovery to the newest recovery point before the incident: more objects are
   missing than a narrow restore should handle, or objects are missing while a migration set is also broken
   (two kinds of damage at once: no narrower fix covers both).
2. a half-applied set -> repair in place (migrate with on_partial resume or compensate): it must be resolved first,
   nothing else can be rolled back or applied over it, and it is the cheapest fix.
3. an applied set fails its verification -> roll back the migrations to the version before the first failing set.
4. tables or collections missing since the newest recovery point -> restore just those into a side schema/database
   and copy them back.
5. nothing found: severity critical -> full point-in-time recovery (the operator declares damage the assessment
   cannot localise); otherwise nothing to recover.
A strategy that needs a recovery point before the incident when there is none becomes `manual`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NONE = "none"
REPAIR_IN_PLACE = "repair_in_place"
ROLL_BACK = "roll_back"
RESTORE_OBJECTS = "restore_objects"
FULL_PITR = "full_pitr"
MANUAL = "manual"

SEVERITIES = ("low", "medium", "high", "critical")
ON_PARTIAL = ("resume", "compensate")


@dataclass(frozen=True)
class StrategyInput:
    """What the rules look at, taken from the assessment."""

    severity: str
    half_applied: list[str] = field(default_factory=list)  # versions, oldest first
    failing_verification: list[str] = field(default_factory=list)  # applied versions whose verification fails
    version_before_first_failing: str = "0"
    missing_tables: list[str] | None = None  # None: unknown (no recovery point with an inventory)
    missing_collections: list[str] | None = None
    recovery_point: str | None = None  # the newest recovery point before the incident
    on_partial: str = "compensate"
    max_narrow_objects: int = 3


@dataclass(frozen=True)
class Strategy:
    name: str
    rule: str
    reason: str
    on_partial: str | None = None
    target_version: str | None = None
    tables: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    recovery_point: str | None = None


def _missing(facts: StrategyInput) -> tuple[list[str], list[str]]:
    return list(facts.missing_tables or []), list(facts.missing_collections or [])


def _full_pitr(facts: StrategyInput, rule: str, reason: str) -> Strategy:
    if facts.recovery_point is None:
        return Strategy(MANUAL, rule, reason + "; but no recovery point before the incident exists to return to: "
                        "recover by hand")
    return Strategy(FULL_PITR, rule, reason, recovery_point=facts.recovery_point)


def choose_strategy(facts: StrategyInput) -> Strategy:
    """The first rule that applies, in the documented order."""
    if facts.severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {facts.severity!r}")
    if facts.on_partial not in ON_PARTIAL:
        raise ValueError(f"on_partial must be resume or compensate, not {facts.on_partial!r}")
    tables, collections = _missing(facts)
    objects = tables + collections
    broken_sets = facts.half_applied or facts.failing_verification
    if len(objects) > facts.max_narrow_objects:
        return _full_pitr(facts, "1-wide-damage", f"{len(objects)} tables/collections are missing "
                          f"(more than {facts.max_narrow_objects}): {', '.join(objects)}")
    if objects and broken_sets:
        return _full_pitr(facts, "1-wide-damage", f"missing {', '.join(objects)} while migration set(s) "
                          f"{', '.join(facts.half_applied + facts.failing_verification)} are broken too")
    if facts.half_applied:
        newest = facts.half_applied[-1]
        return Strategy(REPAIR_IN_PLACE, "2-half-applied-set",
                        f"set(s) {', '.join(facts.half_applied)} are half-applied: {facts.on_partial} them in place",
                        on_partial=facts.on_partial, target_version=newest)
    if facts.failing_verification:
        first = facts.failing_verification[0]
        return Strategy(ROLL_BACK, "3-failed-verification",
                        f"applied set(s) {', '.join(facts.failing_verification)} fail their verification: roll back "
                        f"to {facts.version_before_first_failing}, the version before {first}",
                        target_version=facts.version_before_first_failing)
    if objects:
        if facts.recovery_point is None:  # cannot happen: missing objects come from a point's inventory
            return Strategy(MANUAL, "4-missing-objects", f"missing {', '.join(objects)}, no recovery point")
        return Strategy(RESTORE_OBJECTS, "4-missing-objects",
                        f"missing since recovery point {facts.recovery_point}: {', '.join(objects)}",
                        tables=tables, collections=collections, recovery_point=facts.recovery_point)
    if facts.severity == "critical":
        unknown = facts.missing_tables is None or facts.missing_collections is None
        return _full_pitr(facts, "5-critical-unlocalised",
                          "severity critical and the assessment finds no damage it can localise"
                          + (" (no recovery point records an inventory to compare with)" if unknown else ""))
    return Strategy(NONE, "5-nothing-found", "the assessment finds nothing to recover")

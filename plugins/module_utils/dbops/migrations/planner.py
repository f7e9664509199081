"""Deciding what a run does: which sets to apply, resume, compensate or roll back, in which order.

Pure logic over the sets on disk and the ledgers' content; nothing here talks to a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    DbopsError,
    DriftError,
    IrreversibleMigration,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.dependency_graph import DependencyGraph
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    HALF_DONE,
    LedgerEntry,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.repeatable import (
    is_repeatable,
    versioned_only,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import (
    ZERO,
    is_zero,
    same_version,
    version_key,
)

PART_ORDER = ("postgres", "mongodb")

# Set states
PENDING = "pending"
SET_APPLIED = "applied"
HALF_APPLIED = "half_applied"


@dataclass
class SetState:
    """A set's parts as the ledgers see them: part name -> applied | half | absent."""

    migration_set: MigrationSet
    parts: dict[str, str]

    @property
    def state(self) -> str:
        values = set(self.parts.values())
        if values == {"applied"}:
            return SET_APPLIED
        if values <= {"absent"}:
            return PENDING
        return HALF_APPLIED

    def parts_in(self, *states: str) -> list[str]:
        return [p for p in PART_ORDER if self.parts.get(p) in states]


@dataclass
class PlannedAction:
    migration_set: MigrationSet
    action: str  # apply | resume | rollback | compensate
    parts: list[str]  # the parts this action works on, in the order it works on them

    @property
    def version(self) -> str:
        return self.migration_set.version


@dataclass
class Plan:
    actions: list[PlannedAction]
    states: dict[str, SetState]
    current: str
    pending: list[str]
    applied: list[str]
    orphans: list[str] = field(default_factory=list)  # applied in a ledger, no files on disk
    warnings: list[str] = field(default_factory=list)


def ledger_entry(ledger: dict[str, LedgerEntry], version: str) -> LedgerEntry | None:
    entry = ledger.get(version)
    if entry is None:
        # The ledger keeps the version as it was written when applied; 1 and 001 are the same version.
        key = version_key(version)
        entry = next((e for v, e in ledger.items() if version_key(v) == key), None)
    return entry


def _changed_repeatable(mset: MigrationSet, part: str, entry: LedgerEntry) -> bool:
    """A repeatable whose content changed since it was applied is pending again (not drift)."""
    return is_repeatable(mset.version) and bool(entry.checksum) and entry.checksum != getattr(mset, part).checksum


def set_states(sets: list[MigrationSet], ledgers: dict[str, dict[str, LedgerEntry]]) -> dict[str, SetState]:
    """For each set, each part's state in its database's ledger (absent when that database is not connected)."""
    states = {}
    for mset in sets:
        parts = {}
        for part in mset.parts():
            entry = ledger_entry(ledgers.get(part, {}), mset.version)
            if entry is None or (entry.status == APPLIED and _changed_repeatable(mset, part, entry)):
                parts[part] = "absent"
            elif entry.status == APPLIED:
                parts[part] = "applied"
            elif entry.status in HALF_DONE:
                parts[part] = "half"
            else:
                parts[part] = "absent"
        states[mset.version] = SetState(mset, parts)
    return states


def check_drift(sets: list[MigrationSet], ledgers: dict[str, dict[str, LedgerEntry]], allow_drift: bool,
                warnings: list[str]) -> None:
    """An applied (or half-applied) part whose checksum differs from its files fails the run unless allowed."""
    for mset in (s for s in sets if not is_repeatable(s.version)):  # a changed repeatable is applied again
        for part in mset.parts():
            entry = ledger_entry(ledgers.get(part, {}), mset.version)
            if entry is None or entry.status not in (APPLIED, *HALF_DONE) or not entry.checksum:
                continue
            current = getattr(mset, part).checksum
            if current != entry.checksum:
                what = "applied" if entry.status == APPLIED else "partly applied"
                paths = ", ".join(str(p) for p in _part_files(mset, part))
                message = (f"drift: the {part} part was {what} with checksum {entry.checksum[:12]}, its files now "
                           f"hash to {current[:12]}")
                if not allow_drift:
                    raise DriftError(message + " (set allow_drift to accept)", version=mset.version, path=paths)
                warnings.append(f"{mset.version} ({paths}): {message}; accepted (allow_drift)")


def _part_files(mset: MigrationSet, part: str) -> list:
    if part == "postgres" and mset.postgres is not None:
        files = [p for p in (mset.postgres.up_path, mset.postgres.down_path, mset.postgres.verify_path) if p]
        return list(dict.fromkeys(files)) or [mset.path]
    if part == "mongodb" and mset.mongodb is not None:
        return [mset.mongodb.path]
    return [mset.path]


def _resolve_target(target: str, sets: list[MigrationSet], ledger_versions: list[str]) -> str | None:
    """The version as written on disk/in the ledger for a target, or None for 0."""
    if is_zero(target):
        return None
    known = [s.version for s in sets] + ledger_versions
    if target in known:
        return target
    # 1 names 001 (YAML reads an unquoted 001 as 1). Dotted versions must match exactly: YAML reads an unquoted
    # 2024.010 as the number 2024.01, which must not silently select 2024.001.
    if "." not in target:
        for version in known:
            if same_version(version, target):
                return version
    hint = " (quote it in YAML: an unquoted 2024.010 reads as the number 2024.01)" if "." in target else ""
    raise DbopsError(f"target version {target} is not a known version (no set with that version on disk or in "
                     f"the ledger){hint}")


def _current(states: dict[str, SetState], orphans: list[str]) -> str:
    applied = versioned_only([v for v, s in states.items() if s.state == SET_APPLIED] + orphans)
    return max(applied, key=version_key) if applied else ZERO


def make_plan(sets: list[MigrationSet], graph: DependencyGraph, ledgers: dict[str, dict[str, LedgerEntry]], *,
              state: str, target: str, on_partial: str) -> Plan:
    states = set_states(sets, ledgers)
    known = {version_key(s.version) for s in sets}
    orphans = sorted({v for led in ledgers.values() for v, e in led.items()
                      if e.status in (APPLIED, *HALF_DONE) and version_key(v) not in known}, key=version_key)
    warnings = [f"{v}: applied according to the ledger, but no set with this version is in the migrations directory"
                for v in orphans]
    plan = Plan(actions=[], states=states, current=_current(states, orphans),
                pending=[v for v in graph.order() if states[v].state != SET_APPLIED],
                applied=[s.version for s in sets if states[s.version].state == SET_APPLIED] + orphans,
                orphans=orphans, warnings=warnings)
    if state == "status":
        return plan
    if state == "applied":
        _plan_apply(plan, sets, graph, target, on_partial)
    elif state == "rolled_back":
        if target in (None, "", "latest"):
            raise DbopsError("state rolled_back needs a target version to return to (0 = before the first set)")
        _plan_rollback(plan, sets, graph, target)
    else:
        raise DbopsError(f"unknown state {state!r}: expected applied, rolled_back or status")
    return plan


def _plan_apply(plan: Plan, sets: list[MigrationSet], graph: DependencyGraph, target: str, on_partial: str) -> None:
    states = plan.states
    if target in (None, "", "latest"):
        selected = set(graph.order())
    else:
        resolved = _resolve_target(target, sets, plan.orphans)
        limit = version_key(resolved) if resolved else ()
        selected = graph.with_dependencies(
            s.version for s in sets if resolved is not None and version_key(s.version) <= limit)
        if resolved is not None and plan.current != ZERO and version_key(plan.current) > limit:
            plan.warnings.append(f"target {target} is below the current version {plan.current}: applying only "
                                 "pending sets up to the target (use state rolled_back to go back)")
    half = [v for v in graph.order() if states[v].state == HALF_APPLIED]
    for version in half:
        if version not in selected:
            plan.warnings.append(f"{version} is half-applied but above the target: left as it is")
    half = [v for v in half if v in selected]
    if on_partial == "compensate" and half:
        # Undo half-applied sets and stop there: an operator looks before anything else is applied.
        for version in reversed(half):
            st = states[version]
            plan.actions.append(PlannedAction(st.migration_set, "compensate",
                                              list(reversed(st.parts_in("applied", "half")))))
        plan.warnings.append("half-applied set(s) " + ", ".join(half) + " will be compensated (on_partial: "
                             "compensate); nothing else is applied in this run")
        return
    if on_partial not in ("resume", "compensate"):
        raise DbopsError(f"on_partial must be resume or compensate, not {on_partial!r}")
    highest_applied = plan.current
    for version in graph.order():
        if version not in selected:
            continue
        st = states[version]
        if st.state == SET_APPLIED:
            continue
        if st.state == HALF_APPLIED:
            plan.actions.append(PlannedAction(st.migration_set, "resume", st.parts_in("half", "absent")))
            continue
        if (highest_applied != ZERO and not is_repeatable(version)
                and version_key(version) < version_key(highest_applied)):
            plan.warnings.append(f"{version} is applied out of order (below the current version {highest_applied})")
        plan.actions.append(PlannedAction(st.migration_set, "apply", list(st.migration_set.parts())))


def _plan_rollback(plan: Plan, sets: list[MigrationSet], graph: DependencyGraph, target: str) -> None:
    states = plan.states
    resolved = _resolve_target(target, sets, plan.orphans)
    limit = version_key(resolved) if resolved else ()
    for orphan in versioned_only(plan.orphans):
        if version_key(orphan) > limit:
            raise IrreversibleMigration("cannot roll back: applied, but its files are not in the migrations directory",
                                        version=orphan)
    # Repeatables are never undone (Flyway has no undo for them either): they stay as they are.
    touched = {v for v, st in states.items() if st.state != PENDING and not is_repeatable(v)}
    above = {v for v in touched if version_key(v) > limit}
    # A set that depends on one being rolled back goes too, even if its own version is lower.
    to_undo = graph.with_dependents(above) & touched
    for extra in sorted(to_undo - above, key=version_key):
        plan.warnings.append(f"{extra} is rolled back too: it depends on a set above the target")
    for version in reversed(graph.order()):
        if version in to_undo:
            st = states[version]
            plan.actions.append(PlannedAction(st.migration_set, "rollback",
                                              list(reversed(st.parts_in("applied", "half")))))

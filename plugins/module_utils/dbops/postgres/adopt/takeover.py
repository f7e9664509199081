"""Turning another tool's history into the baseline this run records: read-only, every refusal before any write.

Every path (each tool, auto or named, check mode or not) goes through plan_baseline: it reads the history once,
keeps what the engine's ledger does not know yet (a rerun adopts nothing again; a version the engine has since
rolled back is not brought back), reports versions without files and files that drifted from the tool's checksum,
and lets a changed repeatable be applied again instead of recorded.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DriftError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.baseline import Baseline, BaselineEntry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import LedgerEntry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.planner import ledger_entry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.repeatable import is_repeatable
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptedVersion
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.readers import choose_reader


def plan_baseline(conn: Any, *, choice: str, fmt: str, sets: list[MigrationSet], ledger: dict[str, LedgerEntry],
                  allow_drift: bool, warnings: list[str]) -> Baseline:
    """What to record as baseline (nothing is written here); DriftError / AdoptionRefused before anything changes."""
    reader = choose_reader(conn, choice, fmt, warnings)
    if reader is None:
        return Baseline()
    baseline = Baseline(tool=reader.tool)
    by_version = {s.version: s for s in sets}
    for adopted in reader.read(conn, sets):
        if ledger_entry(ledger, adopted.version) is not None:
            continue  # the engine's own ledger has the last word on a version it knows
        mset = by_version.get(adopted.version)
        if mset is None or mset.postgres is None:
            baseline.not_on_disk.append(adopted.version)
            continue
        if adopted.matches_file is False:
            if is_repeatable(adopted.version):
                baseline.reapplied.append(adopted.version)  # changed since: applied again, as the tool would
                continue
            baseline.drift.append(_drift_note(adopted, mset))
        baseline.entries.append(BaselineEntry(version=mset.version, name=mset.slug, checksum=mset.postgres.checksum,
                                              installed_on=adopted.installed_on))
    _report(baseline, allow_drift, warnings)
    return baseline


def _drift_note(adopted: AdoptedVersion, mset: MigrationSet) -> str:
    path = mset.postgres.up_path if mset.postgres is not None and mset.postgres.up_path else mset.path
    return (f"{adopted.version} ({path}): the file changed since {adopted.tool} applied it (its recorded checksum "
            f"{adopted.tool_checksum} no longer matches)")


def _report(baseline: Baseline, allow_drift: bool, warnings: list[str]) -> None:
    tool = baseline.tool
    if baseline.drift and not allow_drift:
        raise DriftError("drift: " + "; ".join(baseline.drift) + " (set allow_drift to take it over as it is now); "
                         "nothing was recorded", version=baseline.drift[0].split(" ", 1)[0])
    warnings.extend(f"drift accepted (allow_drift): {note}" for note in baseline.drift)
    for version in baseline.not_on_disk:
        warnings.append(f"{version}: applied according to {tool}'s history, but no migration with this version is in "
                        "migrations_dir: not recorded")
    for version in baseline.reapplied:
        warnings.append(f"{version}: the repeatable migration changed since {tool} applied it: it is applied again")
    if baseline.entries:
        warnings.append(f"baseline from {tool}: " + ", ".join(baseline.versions)
                        + " taken over as applied, without running them")

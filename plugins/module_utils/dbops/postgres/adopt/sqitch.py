"""Sqitch's registry (schema sqitch: changes, tags, dependencies, events), read and matched to sqitch.plan.

Sqitch deploys changes in plan order and reverts them from the end, so what its registry holds as deployed is always
the plan's first N changes. Each registry row is matched to the plan change at the same position, and must be that
change: same name, same planned time and planner (what Sqitch hashes into the change's ID). A registry that does not
line up with the plan, or whose last event is a failed deploy, is refused rather than guessed at. The registry is
only read, never changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.source_text import read_source
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.sqitch_plan import (
    SqitchChange,
    SqitchDependency,
    SqitchPlan,
    parse_plan,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import (
    AdoptedVersion,
    AdoptionRefused,
)

REGISTRY_SCHEMA = "sqitch"  # Sqitch's default registry (engine.pg.registry); another name is not looked for


@dataclass(frozen=True)
class DeployedChange:
    """One row of sqitch.changes."""

    change_id: str
    name: str
    script_hash: str | None
    committed_at: datetime
    planned_at: datetime
    planner_email: str


def _identifier(*names: str) -> Any:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import require_psycopg

    return require_psycopg().sql.Identifier(*names)


def _select(conn: Any, template: str, table: str, params: tuple) -> list[tuple]:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import require_psycopg

    query = require_psycopg().sql.SQL(template).format(table=_identifier(REGISTRY_SCHEMA, table))
    return conn.execute(query, params).fetchall()


def deploy_script_hash(path: Path) -> str:
    """What Sqitch records as script_hash: the SHA-1 of the deploy script's bytes, exactly as on disk."""
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()


def _planned_at(change: SqitchChange) -> datetime:
    return as_utc(datetime.fromisoformat(change.planned_at.replace("Z", "+00:00")))


class SqitchHistory:
    """HistoryReader for Sqitch's PostgreSQL registry."""

    tool = "sqitch"

    def present(self, conn: Any) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{REGISTRY_SCHEMA}".changes',)).fetchone()
        return bool(row and row[0])

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        plan = _plan_of(sets)
        projects = [r[0] for r in _select(conn, "SELECT DISTINCT project FROM {table}", "changes", ())]
        if plan is None:
            if projects:
                raise AdoptionRefused(f"Sqitch's registry records deployed changes (project {projects[0]}), but the "
                                      "migrations directory is not a Sqitch project (no sqitch.plan)")
            return []
        deployed = self._deployed(conn, plan.project)
        self._refuse_failed_deploy(conn, plan.project)
        _match(plan, deployed)
        self._check_tags(conn, plan, deployed)
        self._check_pending(conn, plan, len(deployed))
        by_version = {s.version: s for s in sets}
        return [_adopted(plan.change_at(i + 1), row, by_version.get(plan.change_at(i + 1).version))
                for i, row in enumerate(deployed)]

    def _deployed(self, conn: Any, project: str) -> list[DeployedChange]:
        rows = _select(conn, "SELECT change_id, change, script_hash, committed_at, planned_at, planner_email "
                             "FROM {table} WHERE project = %s ORDER BY committed_at, change_id", "changes", (project,))
        return [DeployedChange(r[0], r[1], r[2], as_utc(r[3]), as_utc(r[4]), r[5]) for r in rows]

    def _refuse_failed_deploy(self, conn: Any, project: str) -> None:
        """Sqitch records a failed deploy as an event only: what a non-transactional script did before failing may
        still be in the database. Adoption waits until Sqitch has deployed or reverted past it."""
        rows = _select(conn, "SELECT event, change FROM {table} WHERE project = %s "
                             "ORDER BY committed_at DESC LIMIT 1", "events", (project,))
        if rows and rows[0][0] == "fail":
            raise AdoptionRefused(f"Sqitch's last event is a failed deploy of {rows[0][1]!r}: check what it left "
                                  "behind, then deploy or revert it with Sqitch before adopting")

    def _check_tags(self, conn: Any, plan: SqitchPlan, deployed: list[DeployedChange]) -> None:
        positions = {row.change_id: i + 1 for i, row in enumerate(deployed)}
        for tag, change_id in _select(conn, "SELECT tag, change_id FROM {table} WHERE project = %s", "tags",
                                      (plan.project,)):
            planned = next((t for t in plan.tags if f"@{t.name}" == tag), None)
            if planned is None or positions.get(change_id) != planned.position:
                raise AdoptionRefused(f"Sqitch's registry has tag {tag} on another change than sqitch.plan "
                                      f"({plan.path}) puts it: the plan was changed after it was deployed")

    def _check_pending(self, conn: Any, plan: SqitchPlan, deployed: int) -> None:
        """What Sqitch checks before deploying a change, for the changes left to apply: no conflict with a deployed
        change, and other projects' requirements deployed (this project's come earlier in the plan)."""
        for change in plan.changes[deployed:]:
            for dep in change.conflicts:
                if self._is_deployed(conn, plan, dep, deployed):
                    raise AdoptionRefused(f"change {change.name!r} (not deployed yet) conflicts with {dep.text!r}, "
                                          "which is deployed: revert it first")
            for dep in change.requires:
                if not plan.is_local(dep) and not self._is_deployed(conn, plan, dep, deployed):
                    raise AdoptionRefused(f"change {change.name!r} (not deployed yet) requires {dep.text!r} of "
                                          "another project, which Sqitch's registry does not have deployed")

    def _is_deployed(self, conn: Any, plan: SqitchPlan, dep: SqitchDependency, deployed: int) -> bool:
        if plan.is_local(dep):
            names = {c.name for c in plan.changes[:deployed]}
            return dep.change in names if dep.change else any(t.position <= deployed for t in plan.tags
                                                              if t.name == dep.tag)
        if dep.change is None:
            return bool(_select(conn, "SELECT 1 FROM {table} WHERE project = %s AND tag = %s", "tags",
                                (dep.project, f"@{dep.tag}")))
        return bool(_select(conn, "SELECT 1 FROM {table} WHERE project = %s AND change = %s", "changes",
                            (dep.project, dep.change)))


def _plan_of(sets: list[MigrationSet]) -> SqitchPlan | None:
    """The plan the sets were read from (discovery makes sqitch.plan every Sqitch set's manifest)."""
    first = next((s for s in sets if s.source_format == "sqitch" and s.manifest.path is not None), None)
    if first is None or first.manifest.path is None:
        return None
    return parse_plan(read_source(first.manifest.path), first.manifest.path)


def _match(plan: SqitchPlan, deployed: list[DeployedChange]) -> None:
    """Each deployed change is the plan's change at the same position, or the registry and the plan disagree."""
    if len(deployed) > len(plan.changes):
        raise AdoptionRefused(f"Sqitch's registry has {len(deployed)} changes deployed, sqitch.plan ({plan.path}) "
                              f"only {len(plan.changes)}: the plan is not the one that was deployed")
    for position, row in enumerate(deployed, start=1):
        change = plan.change_at(position)
        if (row.name, row.planned_at, row.planner_email) != (change.name, _planned_at(change), change.planner_email):
            raise AdoptionRefused(
                f"Sqitch's registry and sqitch.plan ({plan.path}) disagree at change {position}: deployed "
                f"{row.name!r} planned {to_iso(row.planned_at, timespec='seconds')} by {row.planner_email}, the "
                f"plan has {change.name!r} (line {change.line}) planned {change.planned_at} by "
                f"{change.planner_email}")


def _adopted(change: SqitchChange, row: DeployedChange, mset: MigrationSet | None) -> AdoptedVersion:
    # Registries upgraded from Sqitch before 0.9999 hold the change ID in script_hash: no checksum to compare.
    tool_checksum = row.script_hash if row.script_hash and row.script_hash != row.change_id else None
    matches = None
    if tool_checksum is not None and mset is not None and mset.postgres is not None and mset.postgres.up_path:
        matches = deploy_script_hash(mset.postgres.up_path) == tool_checksum
    return AdoptedVersion(version=change.version, tool="sqitch", description=change.note or change.name,
                          installed_on=to_iso(row.committed_at), tool_checksum=tool_checksum, matches_file=matches)

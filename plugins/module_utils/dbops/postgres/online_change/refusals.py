"""What an online change cannot move, refused before anything changes, with the object named.

Each check is a (finding, reason) pair over the catalog records of shape.py; refuse() raises for the first.
"""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import TableShape


class OnlineChangeRefused(MigrationFailed):
    """An online change's table has something the change cannot carry over to the new table."""


def findings(shape: TableShape) -> list[str]:
    """Every object in the way, as '<object>: <why>' (empty: the change can run)."""
    found: list[str] = []
    if shape.kind == "p" or shape.is_partition:
        found.append(f"partitioning of {shape.qualified}: a partitioned table or a partition is not rewritten online")
    if shape.kind not in ("r", "p"):
        found.append(f"{shape.qualified} is not an ordinary table (relkind {shape.kind})")
    found.extend(f"inheritance {name}: tables with parents or children are not rewritten online"
                 for name in shape.inheritance)
    if shape.persistence != "p":
        found.append(f"{shape.qualified} is unlogged or temporary: only ordinary logged tables are supported")
    if not shape.primary_key:
        found.append(f"primary key of {shape.qualified}: there is none; the copy pages and the triggers find rows "
                     "by it (add one first)")
    found.extend(f"trigger {t} on {shape.qualified}: user triggers would not fire on the copy nor move to the new "
                 "table" for t in shape.triggers)
    found.extend(f"rule {r} on {shape.qualified}: rules are not moved" for r in shape.rules)
    if shape.row_security:
        found.append(f"row level security of {shape.qualified}: enabled; policies are not moved")
    found.extend(f"policy {p} on {shape.qualified}: row level security policies are not moved"
                 for p in shape.policies)
    found.extend(f"publication {p}: {shape.qualified} is published; logical replication of a swapped table is not "
                 "carried over" for p in shape.publications)
    found.extend(f"column grant on {shape.qualified}.{c.name}: column-level privileges are not moved"
                 for c in shape.columns if c.has_column_grants)
    if shape.replica_identity != "d":
        found.append(f"replica identity of {shape.qualified}: only the default is carried over")
    for view in shape.views:
        if view.kind == "m":
            found.append(f"materialized view {view.schema}.{view.name}: it depends on {shape.qualified} and is not "
                         "re-created")
        found.extend(f"view {dependent}: it depends on {shape.qualified} through view {view.schema}.{view.name}; "
                     "only views directly on the table are re-created" for dependent in view.dependent_views)
    found.extend(f"foreign key {fk.name} on {fk.table}: it references its own table" for fk in shape.incoming_fks
                 if (fk.schema, fk.relname) == (shape.schema, shape.name))
    found.extend(f"foreign key {fk.name} on {fk.table}: a partitioned table's (or a partition's) foreign key "
                 "cannot be re-added NOT VALID" for fk in shape.incoming_fks if fk.on_partitioned)
    found.extend(f"{obj}: it depends on {shape.qualified} (or its row type) and is not moved"
                 for obj in shape.other_dependents)
    return found


def refuse(shape: TableShape, *, version: str, path: str | Path | None) -> None:
    found = findings(shape)
    if found:
        raise OnlineChangeRefused(f"online change of {shape.qualified} refused, nothing was changed: {found[0]}"
                                  + (f" (and {len(found) - 1} more: {'; '.join(found[1:])})" if found[1:] else ""),
                                  version=version, path=path)

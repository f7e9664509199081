"""depends_on as a directed acyclic graph: validation (unknown versions, cycles) and dependency-respecting order."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DependencyError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import version_key


class DependencyGraph:
    """Edges set -> the sets it depends on, keyed by version as written in the set's name."""

    def __init__(self, sets: list[MigrationSet]) -> None:
        self.sets = {s.version: s for s in sets}
        by_key = {version_key(s.version): s.version for s in sets}
        self.deps: dict[str, list[str]] = {}
        for mset in sets:
            resolved = []
            for dep in mset.manifest.depends_on:
                # depends_on may spell a version differently (1 vs 001); it names the same set.
                target = by_key.get(version_key(dep))
                if target is None:
                    raise DependencyError(f"depends on unknown version {dep}", version=mset.version,
                                          path=mset.manifest.path or mset.path)
                if target == mset.version:
                    raise DependencyError("depends on itself", version=mset.version,
                                          path=mset.manifest.path or mset.path)
                resolved.append(target)
            self.deps[mset.version] = resolved
        self.dependents: dict[str, list[str]] = {v: [] for v in self.sets}
        for version, deps in self.deps.items():
            for dep in deps:
                self.dependents[dep].append(version)
        self._order = self._topological_order()

    def _topological_order(self) -> list[str]:
        """Kahn's algorithm; among sets that are ready, the lowest version first (natural order)."""
        remaining = {v: len(d) for v, d in self.deps.items()}
        ready = [(version_key(v), v) for v, n in remaining.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            version = heapq.heappop(ready)[1]
            order.append(version)
            for dependent in self.dependents[version]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, (version_key(dependent), dependent))
        if len(order) != len(self.sets):
            cycle = self._find_cycle({v for v, n in remaining.items() if n > 0})
            first = self.sets[cycle[0]]
            raise DependencyError("dependency cycle: " + " -> ".join(cycle + [cycle[0]]), version=cycle[0],
                                  path=first.manifest.path or first.path)
        return order

    def _find_cycle(self, candidates: set[str]) -> list[str]:
        """One cycle among the versions left over by the topological sort, for the error message."""
        start = min(candidates, key=version_key)
        path: list[str] = []
        seen: dict[str, int] = {}
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = min((d for d in self.deps[node] if d in candidates), key=version_key)
        return path[seen[node]:]

    def order(self) -> list[str]:
        """All versions, dependencies first, natural order otherwise."""
        return list(self._order)

    def with_dependencies(self, versions: Iterable[str]) -> set[str]:
        """The versions plus everything they depend on, transitively."""
        return _closure(versions, self.deps)

    def with_dependents(self, versions: Iterable[str]) -> set[str]:
        """The versions plus everything that depends on them, transitively."""
        return _closure(versions, self.dependents)


def _closure(versions: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    """The versions plus everything reachable from them along edges."""
    result: set[str] = set()
    stack = list(versions)
    while stack:
        version = stack.pop()
        if version not in result:
            result.add(version)
            stack.extend(edges.get(version, []))
    return result

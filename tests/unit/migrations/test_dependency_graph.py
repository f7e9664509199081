"""depends_on as a DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DependencyError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.dependency_graph import DependencyGraph
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import Manifest, MigrationSet


def _set(version, *deps):
    return MigrationSet(version=version, slug="s", path=Path(f"/m/{version}_s"), manifest=Manifest(depends_on=deps))


def test_order_is_natural_unless_a_dependency_says_otherwise():
    graph = DependencyGraph([_set("1"), _set("2", "10"), _set("10"), _set("3")])
    # 2 waits for 10; the others keep their natural order.
    assert graph.order() == ["1", "3", "10", "2"]


def test_dependencies_and_dependents_closures():
    graph = DependencyGraph([_set("1"), _set("2", "1"), _set("3", "2"), _set("4")])
    assert graph.with_dependencies(["3"]) == {"1", "2", "3"}
    assert graph.with_dependents(["1"]) == {"1", "2", "3"}


def test_dependency_spelled_differently_names_the_same_set():
    graph = DependencyGraph([_set("001"), _set("002", "1")])
    assert graph.deps["002"] == ["001"]


def test_unknown_dependency_is_named():
    with pytest.raises(DependencyError, match="unknown version 7") as err:
        DependencyGraph([_set("1"), _set("2", "7")])
    assert err.value.version == "2"


def test_cycle_is_reported_with_its_versions():
    with pytest.raises(DependencyError) as err:
        DependencyGraph([_set("1"), _set("2", "4"), _set("3", "2"), _set("4", "3")])
    assert "dependency cycle: 2 -> 4 -> 3 -> 2" in str(err.value)


def test_self_dependency():
    with pytest.raises(DependencyError, match="depends on itself"):
        DependencyGraph([_set("1", "1")])

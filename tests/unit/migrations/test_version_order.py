"""Natural version order; versions kept as written."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import (
    is_zero,
    same_version,
    sort_versions,
)


def test_natural_order():
    assert sort_versions(["10", "2", "1"]) == ["1", "2", "10"]
    assert sort_versions(["2025.001", "2024.010", "2024.001", "2024.002"]) == [
        "2024.001", "2024.002", "2024.010", "2025.001"]
    assert sort_versions(["1.1", "1", "1.10", "1.9", "2"]) == ["1", "1.1", "1.9", "1.10", "2"]
    assert sort_versions(["000244", "000010", "000009"]) == ["000009", "000010", "000244"]


def test_leading_zeros_compare_equal_but_are_kept():
    assert same_version("001", "1") and same_version("2024.001", "2024.1")
    assert sort_versions(["002", "1"]) == ["1", "002"]


def test_zero():
    assert is_zero("0") and is_zero("000")
    assert not is_zero("10") and not is_zero("") and not is_zero("0.1")

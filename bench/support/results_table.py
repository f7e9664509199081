"""Plain-text tables for benchmark results, readable in a terminal and pasteable into Markdown."""

from __future__ import annotations


def render(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown pipe table with columns padded to the widest cell; every row must have one cell per header."""
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells for {len(headers)} columns: {row!r}")
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])


def ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    return f"{value / reference:.2f}x"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def verdict(factor: float | None, limit: float, *, at_least: bool = False) -> str:
    """met or MISSED for a measured factor against its target (at most limit, or at least it); - unmeasured."""
    if factor is None:
        return "-"
    return "met" if (factor >= limit if at_least else factor <= limit) else "MISSED"

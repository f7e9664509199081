"""Plain-text tables for benchmark results, readable in a terminal and pasteable into Markdown."""

from __future__ import annotations


def render(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown pipe table with columns padded to the widest cell."""
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

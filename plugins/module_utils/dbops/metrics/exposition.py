"""The Prometheus text exposition format (version 0.0.4), written and read back.

Reading is only for the file this collection writes itself (so that one role's update keeps the families the
other roles wrote): HELP, TYPE and sample lines, no timestamps, no exemplars.
"""

from __future__ import annotations

import math
import re

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.family import (
    MetricFamily,
    MetricsError,
    Sample,
)

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)\s*$")
_LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _unescape_label(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def render(families: list[MetricFamily]) -> str:
    """Families sorted by name, samples by labels: the same state always gives the same bytes."""
    lines: list[str] = []
    for family in sorted(families, key=lambda f: f.name):
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in sorted(family.samples, key=lambda s: s.labels):
            labels = ",".join(f'{name}="{_escape_label(value)}"' for name, value in sample.labels)
            lines.append(f"{family.name}{{{labels}}} {_number(sample.value)}" if labels
                         else f"{family.name} {_number(sample.value)}")
    return "\n".join(lines) + "\n" if lines else ""


def parse(text: str) -> list[MetricFamily]:
    """The families of a file render() wrote; anything else in it is an error naming the line."""
    families: dict[str, MetricFamily] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            name, _sep, help_text = line[7:].partition(" ")
            families.setdefault(name, MetricFamily(name, "")).help = _unescape_label(help_text)
        elif line.startswith("# TYPE "):
            name, _sep, kind = line[7:].partition(" ")
            families.setdefault(name, MetricFamily(name, "")).type = kind.strip()
        elif line.startswith("#"):
            continue
        else:
            match = _SAMPLE.match(line)
            if not match:
                raise MetricsError(f"line {number} is not a metric sample: {line[:80]!r}")
            labels = tuple(sorted((key, _unescape_label(value))
                                  for key, value in _LABEL_PAIR.findall(match.group("labels") or "")))
            value = match.group("value")
            number_value = float("inf") if value == "+Inf" else float("-inf") if value == "-Inf" else float(value)
            families.setdefault(match.group("name"), MetricFamily(match.group("name"), "")).samples.append(
                Sample(labels, number_value))
    return list(families.values())

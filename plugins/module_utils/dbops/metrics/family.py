"""A metric family of the Prometheus text format: its name, help, type and samples (label sets and values)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

PREFIX = "sevenp_dbops_"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("gauge", "counter", "untyped")


class MetricsError(DbopsError):
    """A metric or the textfile it goes to cannot be written as asked."""


@dataclass(frozen=True)
class Sample:
    labels: tuple[tuple[str, str], ...]
    value: float

    @staticmethod
    def of(value: float | int | bool, **labels: object) -> Sample:
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__"):
                raise MetricsError(f"{label!r} is not a valid Prometheus label name")
        number = float(value)
        if math.isnan(number):
            raise MetricsError("a metric value must be a number, not NaN")
        return Sample(tuple(sorted((name, str(text)) for name, text in labels.items() if text is not None)), number)


@dataclass
class MetricFamily:
    name: str
    help: str
    type: str = "gauge"
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise MetricsError(f"{self.name!r} is not a valid Prometheus metric name")
        if self.type not in TYPES:
            raise MetricsError(f"metric type {self.type!r} is not one of {', '.join(TYPES)}")

    def add(self, value: float | int | bool, **labels: object) -> MetricFamily:
        self.samples.append(Sample.of(value, **labels))
        return self


def gauge(short_name: str, help_text: str) -> MetricFamily:
    """A gauge named sevenp_dbops_<short_name>."""
    return MetricFamily(PREFIX + short_name, help_text)

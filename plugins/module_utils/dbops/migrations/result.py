"""The record a run returns; the `migrate` module returns it as JSON (to_dict)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SetOutcome:
    """What happened to one set in this run."""

    version: str
    name: str
    action: str  # apply | resume | rollback | compensate
    parts: dict[str, str] = field(default_factory=dict)  # part name -> status after the run
    status: str = "pending"  # applied | rolled_back | compensated | failed | planned
    duration_ms: int = 0
    error: str | None = None


@dataclass
class RunResult:
    changed: bool = False
    applied: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    current: str = "0"
    plan: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    before: str = "0"
    after: str = "0"
    warnings: list[str] = field(default_factory=list)
    format: str = "native"
    # Set when the run failed part-way; the engine raises, but callers that catch it still see what was done.
    failed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""What every job reports besides its own facts: the statements and commands it ran, and what it warns about.

The modules turn a job's result into return values through as_dict(); queries and warnings are what Ansible shows
for every job alike, so they are declared once here and each result adds only its own fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(kw_only=True)
class JobReport:
    queries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

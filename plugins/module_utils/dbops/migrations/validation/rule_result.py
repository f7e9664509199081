"""What checking one rule found: the record returned per rule in the module result and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
NOT_COMPARABLE = "not_comparable"  # a row_count rule without a "before" figure (status re-checks, resumed sets)
NOT_RUN = "not_run"  # check mode: a post rule (the set is not applied), or a set after the first one


@dataclass
class RuleResult:
    index: int
    kind: str
    phase: str
    target: str
    status: str = PASSED
    ok: bool = True
    checked: int = 0  # rows or documents read
    offending: int = 0  # of them, how many break the rule
    examples: list[str] = field(default_factory=list)  # up to MAX_EXAMPLES offending keys
    before: int | None = None  # row_count
    after: int | None = None
    message: str = ""
    read_only: bool = True  # every rule only reads (PostgreSQL batches run in READ ONLY transactions)
    check_mode: bool = False
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failure(self) -> str:
        """One line for an error message."""
        label = f"validate[{self.index}] {self.kind} on {self.target}"
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{label}: {self.message}{shown}"

"""What each database offers the rule evaluation: read-only, paged reads. One implementation per database
(postgres/validation/rule_checker.py, mongodb/validation/rule_checker.py); the evaluation only sees this Protocol,
through the part boundary, so a driver error is the engine's error like any other failure of a part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    Paging,
    Target,
    ValidationRule,
)


@dataclass
class Offenders:
    """How many rows a scan read, how many broke the rule, and the keys of the first few."""

    checked: int = 0
    offending: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    """One batch of (key, values) rows in key order (key: the paging key's value, a tuple for a composite key);
    `after` is where the next batch starts (None: the end)."""

    rows: list[tuple[str, tuple[Any, ...]]]
    after: Any


class RuleChecker(Protocol):
    def count(self, target: Target, paging: Paging) -> int:
        """Rows of the table (documents of the collection), counted batch by batch."""

    def nulls(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        """Rows where any of the fields is null (or, in MongoDB, missing)."""

    def duplicates(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        """Rows whose fields' values another row has too."""

    def custom(self, rule: ValidationRule) -> Offenders:
        """The rule's own check (sql: a query; mongodb: a filter; json_schema: a schema): what it finds."""

    def page(self, target: Target, fields: tuple[str, ...], after: Any, paging: Paging) -> Page:
        """The next batch of rows after `after` (None: the first), with the fields' values."""

    def existing(self, target: Target, field_name: str, values: list[Any], paging: Paging) -> set[str]:
        """Which of values the field holds in some row, as canonical.key_text spells them (5 and "5" alike)."""

    def verify_set(self, mset: MigrationSet, check_mode: bool) -> str | None:
        """The set's own verification (verify SQL / MongoDB validation), read-only; the problem, or None."""

    def exists(self, target: Target, column: str | None, paging: Paging) -> bool:
        """Whether the table / collection (column None), or the table's column, exists now (object_check.py)."""

"""Before a run changes anything (check mode too): every table, collection and column the pending sets'
validate: rules name must exist now, or may be created by what runs before the rule; otherwise the run stops with
one error naming the set's migration.yml and each such rule.

"May be created" is judged from the text of the sets that run before the rule (a pre rule: the sets before its
own; a post rule: those and its own), never by running anything, and leans towards yes, so a rule is never
refused wrongly:
- a table or collection may be created when its name occurs as a word in that text (PostgreSQL: the SQL of the
  up part and the online_change declarations; MongoDB: mongodb.yml), comments included; a missing table's columns
  are then not looked up;
- a column of an existing table may be created when its name occurs as a word, or when the text also has a
  construct that brings columns without naming them (LIKE, INHERITS, *, AS SELECT / TABLE / VALUES / WITH) and
  names the table;
- an unqualified table name resolves through the search_path: text that sets it may make any such name resolve;
- a mongodb.py part is code: after one, nothing is refused on MongoDB;
- an sql rule's query and MongoDB fields are not looked up (see named_objects.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.named_objects import (
    NamedObject,
    named_objects,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    MONGODB,
    POSTGRES,
    PRE,
    Paging,
    Target,
    ValidationRule,
)

_UNNAMED_COLUMNS = re.compile(r"\bLIKE\b|\bINHERITS?\b|\*|\bAS\s*\(?\s*(?:SELECT|TABLE|VALUES|WITH)\b", re.IGNORECASE)
_WORD_EDGE = "A-Za-z0-9_$"
_NAME_PART = re.compile(r'"([^"]+)"|([^."]+)')


class ObjectLookup(Protocol):
    def exists(self, target: Target, column: str | None, paging: Paging) -> bool:
        """Whether the table / collection (column None), or the column of the table, exists now."""


@dataclass
class PendingSource:
    """What the sets run so far could create, per database: their text, or None once one is code."""

    text: dict[str, str | None] = field(default_factory=lambda: {POSTGRES: "", MONGODB: ""})

    def add(self, mset: MigrationSet) -> None:
        part = mset.postgres
        if part is not None and self.text[POSTGRES] is not None:
            changes = [" ".join((c.table, *c.alter, *(f"{k} {v}" for k, v in c.using))) for c in part.online_change]
            self.text[POSTGRES] = "\n".join([str(self.text[POSTGRES]), part.up_sql, *changes])
        mongo = mset.mongodb
        if mongo is not None and self.text[MONGODB] is not None:
            self.text[MONGODB] = None if mongo.kind == "python" else "\n".join([str(self.text[MONGODB]), mongo.source])

    def copy(self) -> PendingSource:
        return PendingSource(dict(self.text))


def _bare(obj: NamedObject) -> str:
    """The table's own name as SQL writes it (schema left out, unquoted); a collection's name as it is."""
    if obj.target.database != POSTGRES:
        return obj.target.name
    quoted, plain = _NAME_PART.findall(obj.target.name)[-1]
    return quoted or plain


def mentions(text: str, name: str) -> bool:
    word = re.escape(name)
    return re.search(rf"(?<![{_WORD_EDGE}]){word}(?![{_WORD_EDGE}])", text, re.IGNORECASE) is not None


def may_create_table(obj: NamedObject, text: str) -> bool:
    """Whether text may create the table or collection (or, for an unqualified table name, point the
    search_path at a schema that has it)."""
    unqualified = obj.target.database == POSTGRES and len(_NAME_PART.findall(obj.target.name)) == 1
    return mentions(text, _bare(obj)) or (unqualified and mentions(text, "search_path"))


def may_create_column(obj: NamedObject, text: str) -> bool:
    """Whether text may add the column to its (existing) table, by name or by a construct that brings columns
    without naming them."""
    return mentions(text, str(obj.column).strip('"')) or (
        _UNNAMED_COLUMNS.search(text) is not None and may_create_table(obj, text))


class _Judge:
    """Looks each object up once (per database, through that database's reads) and judges it."""

    def __init__(self, lookups: Callable[[str], ObjectLookup | None]) -> None:
        self._lookups = lookups
        self._opened: dict[str, ObjectLookup | None] = {}
        self._known: dict[NamedObject, bool] = {}

    def _exists(self, obj: NamedObject, lookup: ObjectLookup, paging: Paging) -> bool:
        if obj not in self._known:
            self._known[obj] = lookup.exists(obj.target, obj.column, paging)
        return self._known[obj]

    def problems(self, rule: ValidationRule, source: PendingSource) -> list[str]:
        found, absent = [], set()
        for obj in named_objects(rule):
            database = obj.target.database
            if database not in self._opened:
                self._opened[database] = self._lookups(database)
            lookup, text = self._opened[database], source.text[database]
            if lookup is None or text is None or (obj.target.name in absent):
                continue  # no connection (reported when the rule runs), code that may create anything, or judged
            if self._exists(obj, lookup, rule.paging):
                continue
            if obj.column is None:
                absent.add(obj.target.name)  # its columns are not looked up: it may be created with them
            if not (may_create_table if obj.column is None else may_create_column)(obj, text):
                found.append(f"{obj.describe()} does not exist")
        return found


def check_named_objects(pending: list[tuple[MigrationSet, bool]], lookups: Callable[[str], ObjectLookup | None]
                        ) -> None:
    """pending: the sets the run applies, in order, each with whether it is resumed (its pre rules do not run).
    Raises ValidationFailed for the first set with a rule naming what neither exists nor may be created."""
    judge, source = _Judge(lookups), PendingSource()
    for mset, resumed in pending:
        before = source.copy()
        source.add(mset)
        problems = []
        for rule in mset.manifest.rules:
            if rule.phase == PRE and resumed:
                continue
            seen = before if rule.phase == PRE else source
            creators = ("no pending set before this one names it (a pre rule runs before the set's own parts)"
                        if rule.phase == PRE else "neither this set nor a pending set before it names it")
            problems += [f"validate[{rule.index}] {rule.kind}: {problem} and {creators}"
                         for problem in judge.problems(rule, seen)]
        if problems:
            raise ValidationFailed("validation rule(s) name what does not exist: " + "; ".join(problems),
                                   version=mset.version, path=mset.manifest.path or mset.path)

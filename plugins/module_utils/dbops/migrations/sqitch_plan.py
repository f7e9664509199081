"""A Sqitch project's plan (sqitch.plan): pragmas, changes with their [requires] and [!conflicts], notes, tags, and
reworked changes, read as text and resolved within the plan. Nothing here touches a file or a database.

How a change becomes a version: its 1-based position in the plan, zero-padded to four digits ("0001", "0002", ...;
the 10000th change is "10000", which still sorts after "9999"). Sqitch changes have names, not numbers, and the
engine needs versions that sort naturally and never change. The position is both: Sqitch itself treats the plan as
append-only (every change's ID is a hash over its parent's, so inserting or reordering changes breaks every
deployment Sqitch made), and a reworked change, appended again after a tag, simply takes the next position. The
change name becomes the set's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

SQITCH_PLAN = "sqitch.plan"
SQITCH_SCRIPT_DIRS = ("deploy", "revert", "verify")
VERSION_WIDTH = 4

_TIMESTAMP = r"(?P<ts>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)"
_PLANNER = r"(?P<planner>[^<]*?)\s*<(?P<email>[^>]*)>"
_NOTE = r"(?:\s+#\s?(?P<note>.*))?"
_NAME = r"[^\s:@#\\\[\]]+"
_CHANGE_LINE = re.compile(rf"^(?P<op>[+-])?(?P<name>{_NAME})\s*(?:\[(?P<deps>[^\]]*)\])?\s*{_TIMESTAMP}\s+{_PLANNER}"
                          rf"{_NOTE}\s*$")
_TAG_LINE = re.compile(rf"^@(?P<name>{_NAME})\s+{_TIMESTAMP}\s+{_PLANNER}{_NOTE}\s*$")
_PRAGMA_LINE = re.compile(r"^%\s*(?P<key>[^=\s]+)\s*(?:=\s*(?P<value>.*?))?\s*$")
_DEPENDENCY = re.compile(rf"^(?:(?P<project>{_NAME}):)?(?P<change>{_NAME})?(?:@(?P<tag>{_NAME}))?$")
_SHA1 = re.compile(r"^(?:[^:]+:)?[0-9a-f]{40}$")
_RELATIVE = re.compile(r"[\^~][0-9]*$|^@?(?:HEAD|ROOT)$")


@dataclass(frozen=True)
class SqitchDependency:
    """One entry of a change's [brackets]: a requirement, or (written with '!') a conflict."""

    text: str  # as written, without the '!'
    conflict: bool
    project: str | None  # None: the plan's own project
    change: str | None  # None for a bare tag (@tag)
    tag: str | None


@dataclass(frozen=True)
class SqitchTag:
    name: str  # without the '@'
    position: int  # the position of the change it tags (the change just before the tag line)
    line: int


@dataclass(frozen=True)
class SqitchChange:
    position: int  # 1-based position in the plan: the source of the set's version
    name: str
    requires: tuple[SqitchDependency, ...]
    conflicts: tuple[SqitchDependency, ...]
    note: str
    planned_at: str  # ISO time as written in the plan, e.g. 2024-01-02T10:00:00Z
    planner_name: str
    planner_email: str
    line: int
    # For an instance the plan reworks later: the tags between it and its next instance, in plan order; its scripts
    # are deploy/<name>@<tag>.sql for the first of these tags whose script exists. Empty for a current instance.
    rework_tags: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        return sqitch_version(self.position)

    @property
    def is_reworked(self) -> bool:
        return bool(self.rework_tags)


@dataclass(frozen=True)
class SqitchPlan:
    path: Path
    project: str
    uri: str | None
    pragmas: dict[str, str]
    changes: tuple[SqitchChange, ...]
    tags: tuple[SqitchTag, ...]

    def change_at(self, position: int) -> SqitchChange:
        return self.changes[position - 1]

    def depends_on(self, change: SqitchChange) -> tuple[str, ...]:
        """The versions the change requires within this project (other projects' changes are not sets here)."""
        versions = []
        for dep in change.requires:
            if self.is_local(dep):
                target = self.resolve(dep, change)
                if target is None:
                    raise MigrationFormatError(f"change {change.name!r} (line {change.line}) requires {dep.text!r}, "
                                               "which is not earlier in the plan", path=self.path)
                versions.append(target.version)
        return tuple(dict.fromkeys(versions))

    def is_local(self, dep: SqitchDependency) -> bool:
        return dep.project is None or dep.project == self.project

    def resolve(self, dep: SqitchDependency, before: SqitchChange) -> SqitchChange | None:
        """The plan change a dependency of `before` names among the changes before it, or None."""
        earlier = self.changes[:before.position - 1]
        if dep.change is None:  # @tag: the change the tag is on
            tag = self._tag(dep.tag)
            return self.change_at(tag.position) if tag is not None and tag.position < before.position else None
        named = [c for c in earlier if c.name == dep.change]
        if dep.tag is None:
            return named[-1] if named else None
        tag = self._tag(dep.tag)
        if tag is None:
            return None
        # As a dependency, name@tag is "the instance current at that tag, or any later one": the one current at the
        # tag is the earliest that satisfies it, which is what the order needs.
        at_tag = [c for c in named if c.position <= tag.position]
        return at_tag[-1] if at_tag else (named[0] if named else None)

    def _tag(self, name: str | None) -> SqitchTag | None:
        return next((t for t in self.tags if t.name == name), None)


def sqitch_version(position: int) -> str:
    return f"{position:0{VERSION_WIDTH}d}"


def _dependency(text: str, path: Path, line: int) -> SqitchDependency:
    conflict = text.startswith("!")
    body = text[1:] if conflict else text
    if _SHA1.match(body) or _RELATIVE.search(body):
        raise MigrationFormatError(f"line {line}: dependency {text!r} names a change by ID or relative to another "
                                   "(HEAD, ROOT, ^, ~): write the change's name (name, name@tag or @tag)", path=path)
    match = _DEPENDENCY.match(body)
    if match is None or not (match.group("change") or match.group("tag")):
        raise MigrationFormatError(f"line {line}: {text!r} is not a dependency (name, name@tag, @tag, "
                                   "project:name, or one of these after '!' for a conflict)", path=path)
    return SqitchDependency(text=body, conflict=conflict, project=match.group("project"),
                            change=match.group("change"), tag=match.group("tag"))


@dataclass
class _Reading:
    """The plan as read so far (mutable while reading; frozen into a SqitchPlan at the end)."""

    path: Path
    pragmas: dict[str, str]
    changes: list[SqitchChange]
    tags: list[SqitchTag]

    def add_change(self, match: re.Match, line: int) -> None:
        if match.group("op") == "-":
            raise MigrationFormatError(f"line {line}: a '-' (revert) change in the plan is not supported",
                                       path=self.path)
        deps = [_dependency(word, self.path, line) for word in (match.group("deps") or "").split()]
        name = match.group("name")
        self._check_rework(name, line)
        self.changes.append(SqitchChange(
            position=len(self.changes) + 1, name=name, requires=tuple(d for d in deps if not d.conflict),
            conflicts=tuple(d for d in deps if d.conflict), note=(match.group("note") or "").strip(),
            planned_at=match.group("ts"), planner_name=match.group("planner").strip(),
            planner_email=match.group("email"), line=line))

    def _check_rework(self, name: str, line: int) -> None:
        """A change may appear again only after a tag (Sqitch's rework); the earlier instance learns its tags."""
        previous = next((c for c in reversed(self.changes) if c.name == name), None)
        if previous is None:
            return
        between = tuple(t.name for t in self.tags if t.position >= previous.position)
        if not between:
            raise MigrationFormatError(f"line {line}: change {name!r} appears again (line {previous.line}) with no "
                                       "tag in between: a reworked change comes after a tag", path=self.path)
        self.changes[previous.position - 1] = _with_rework_tags(previous, between)

    def add_tag(self, match: re.Match, line: int) -> None:
        name = match.group("name")
        if not self.changes:
            raise MigrationFormatError(f"line {line}: tag @{name} comes before any change", path=self.path)
        if any(t.name == name for t in self.tags):
            raise MigrationFormatError(f"line {line}: tag @{name} is used twice", path=self.path)
        if "/" in name:
            raise MigrationFormatError(f"line {line}: tag @{name}: a tag name has no '/'", path=self.path)
        self.tags.append(SqitchTag(name=name, position=len(self.changes), line=line))


def _with_rework_tags(change: SqitchChange, tags: tuple[str, ...]) -> SqitchChange:
    return SqitchChange(position=change.position, name=change.name, requires=change.requires,
                        conflicts=change.conflicts, note=change.note, planned_at=change.planned_at,
                        planner_name=change.planner_name, planner_email=change.planner_email, line=change.line,
                        rework_tags=tags)


def parse_plan(text: str, path: Path) -> SqitchPlan:
    """The plan in text (the content of path, which is only named in messages); MigrationFormatError if malformed."""
    reading = _Reading(path=path, pragmas={}, changes=[], tags=[])
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("%"):
            pragma = _PRAGMA_LINE.match(line)
            if pragma is None:
                raise MigrationFormatError(f"line {number}: not a pragma (%name=value)", path=path)
            reading.pragmas[pragma.group("key")] = pragma.group("value") or ""
        elif line.startswith("@"):
            tag = _TAG_LINE.match(line)
            if tag is None:
                raise MigrationFormatError(f"line {number}: not a tag line (@name timestamp planner <email>)",
                                           path=path)
            reading.add_tag(tag, number)
        else:
            change = _CHANGE_LINE.match(line)
            if change is None:
                raise MigrationFormatError(f"line {number}: not a change line (name [dependencies] timestamp "
                                           "planner <email> # note)", path=path)
            reading.add_change(change, number)
    project = reading.pragmas.get("project")
    if not project:
        raise MigrationFormatError("has no %project pragma: a Sqitch plan names its project", path=path)
    plan = SqitchPlan(path=path, project=project, uri=reading.pragmas.get("uri"), pragmas=dict(reading.pragmas),
                      changes=tuple(reading.changes), tags=tuple(reading.tags))
    _check_conflicts(plan)
    return plan


def _check_conflicts(plan: SqitchPlan) -> None:
    """A change that conflicts with an earlier change of the plan can never be deployed: the earlier one is always
    in place when its turn comes (changes are deployed in plan order). Refused here, once, for every run."""
    for change in plan.changes:
        for dep in change.conflicts:
            if plan.is_local(dep) and plan.resolve(dep, change) is not None:
                raise MigrationFormatError(f"change {change.name!r} (line {change.line}) conflicts with {dep.text!r}, "
                                           "which comes earlier in the plan: it could never be deployed",
                                           path=plan.path)


def script_stem(change: SqitchChange, existing: set[str]) -> str | None:
    """The name of the change's scripts without directory and .sql: 'users', or 'users@v1' for an instance the plan
    reworks later (Sqitch takes the first of the rework tags whose deploy script exists). None when the change has
    no deploy script. existing holds the project's script paths, e.g. 'deploy/users.sql'."""
    candidates = [f"{change.name}@{tag}" for tag in change.rework_tags] if change.is_reworked else [change.name]
    return next((stem for stem in candidates if f"deploy/{stem}.sql" in existing), None)

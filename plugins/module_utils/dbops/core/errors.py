"""Errors raised by the engine: one clear message naming the version and the file when they are known.

Every message is redacted here, where it is made, so no raise site can leak a password it happened to quote (a DSN,
a URI, a statement with PASSWORD '...', a driver's error text).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact

if TYPE_CHECKING:  # only for the attribute types below: core never imports the migrations engine at run time
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import RunResult, SetOutcome

# The redacting __str__ wrappers made by __init_subclass__, so a subclass of a subclass is not wrapped twice.
_REDACTING_STR: set[Callable[..., str]] = set()


class DbopsError(Exception):
    """Base of every engine error; str() reads "<version> (<path>): <message>", always redacted."""

    def __init__(self, message: str, *, version: str | None = None, path: str | Path | None = None) -> None:
        self.message = redact(str(message))
        self.version = version
        self.path = str(path) if path is not None else None
        # The engine attaches the RunResult of a run that failed part-way, so callers can report what was done,
        # and the coordinator the SetOutcome of the set it was running.
        self.result: RunResult | None = None
        self.outcome: SetOutcome | None = None
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.version and self.path:
            where = f"{self.version} ({self.path}): "
        elif self.version:
            where = f"{self.version}: "
        elif self.path:
            where = f"{self.path}: "
        # Redacted again: message may have been replaced after construction.
        return redact(where + self.message)

    def __init_subclass__(cls, **kwargs) -> None:
        # A subclass that renders itself differently is redacted too: str() of any engine error never leaks.
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__str__")
        if own is not None and own not in _REDACTING_STR:
            def redacted_str(self, _render=own) -> str:
                return redact(_render(self))
            _REDACTING_STR.add(redacted_str)
            # Replacing the subclass's method is the point here; mypy refuses method assignment on principle.
            cls.__str__ = redacted_str  # type: ignore[method-assign]


class MigrationFormatError(DbopsError):
    """A migration directory, file name or migration.yml is malformed."""


class DependencyError(DbopsError):
    """depends_on names an unknown version or forms a cycle."""


class DriftError(DbopsError):
    """An applied set's files changed since it was applied."""


class RunnerLockTimeout(DbopsError):
    """Another runner held the runner lock for longer than the wait timeout."""


class ConnectionFailed(DbopsError):
    """A database could not be reached or refused the credentials."""


class DestructiveChangeRefused(DbopsError):
    """A set would destroy data and allow_destructive is off."""


class IrreversibleMigration(DbopsError):
    """A rollback would need a down that does not exist."""


class MigrationFailed(DbopsError):
    """A statement or operation of a set failed."""


class ValidationFailed(DbopsError):
    """A set's verification query or validate step reported a problem."""


class RepositoryError(DbopsError):
    """A backup repository is unreachable or inconsistent."""


class RestoreError(DbopsError):
    """A restore could not reach its target."""


class BackupError(DbopsError):
    """A backup could not be taken."""


class LintFailed(DbopsError):
    """The linter (squawk) failed, or found problems of the rules that fail the run."""


class ApprovalRequired(DbopsError):
    """A run that would change the databases was not approved."""

"""The one door between the engine and a PartExecutor: whatever an executor raises comes out as a DbopsError.

The engine and the coordinator never call an executor directly; they hold PartBoundary objects. A driver error
the executor did not translate (pymongo's AutoReconnect, psycopg's OperationalError, a bug's TypeError) would
otherwise skip the coordinator's compensation, which only knows the engine's errors, and leave an applied part
behind. Here it becomes a MigrationFailed naming the set, the part, the step and the original error, redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.baseline import Baseline
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    LedgerEntry,
    PartExecutor,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.guarded_checker import (
    GuardedChecker,
)

T = TypeVar("T")

# A driver's message can run to a topology dump; the first part says what happened.
MAX_CAUSE_CHARS = 400


def describe_cause(exc: BaseException, known: tuple[str, ...] = ()) -> str:
    """'<ExceptionType>: <first line of its message>', redacted and shortened."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > MAX_CAUSE_CHARS:
        text = text[:MAX_CAUSE_CHARS].rstrip() + " ..."
    return redact(f"{type(exc).__name__}: {text}", known)


class PartBoundary:
    """An executor seen through the one function every call goes through (`_call`)."""

    def __init__(self, name: str, executor: PartExecutor, known_secrets: tuple[str, ...] = ()) -> None:
        self.name = name
        self.executor = executor
        self.known_secrets = known_secrets

    def _call(self, step: str, mset: MigrationSet | None, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return work(*args, **kwargs)
        except DbopsError:
            raise
        except Exception as exc:  # noqa: BLE001 - the point of the boundary: nothing raw gets past it
            where = f"the {self.name} part failed while {step}" if mset is not None else f"{self.name}: {step} failed"
            error = MigrationFailed(f"{where}: {describe_cause(exc, self.known_secrets)}",
                                    version=mset.version if mset is not None else None,
                                    path=_part_path(mset, self.name))
            raise error from exc

    # ---- connection, lock, ledger ------------------------------------------------------------------------------

    def connect(self) -> None:
        self._call("connecting", None, self.executor.connect)

    def close(self) -> None:
        self._call("closing the connection", None, self.executor.close)

    def acquire_runner_lock(self, wait_s: float) -> None:
        self._call("taking the runner lock", None, self.executor.acquire_runner_lock, wait_s)

    def release_runner_lock(self) -> None:
        self._call("releasing the runner lock", None, self.executor.release_runner_lock)

    def ledger(self) -> dict[str, LedgerEntry]:
        return self._call("reading the ledger", None, self.executor.ledger)

    def notes(self) -> list[str]:
        return self._call("reading its notes", None, self.executor.notes)

    # ---- taking over another migration tool's history (only executors that can: PostgreSQL) ------------------------

    def plan_baseline(self, sets: list[MigrationSet], fmt: str, adopt: str, opts: RunOptions) -> Baseline:
        work = getattr(self.executor, "plan_baseline", None)
        if work is None:  # this database kind keeps no other tool's history
            return Baseline()
        return self._call("reading the other migration tool's history", None, work, sets, fmt, adopt, opts)

    def record_baseline(self, baseline: Baseline, opts: RunOptions) -> None:
        work = getattr(self.executor, "record_baseline", None)
        if work is not None and baseline.entries:
            self._call("recording the baseline", None, work, baseline, opts)

    # ---- one set's part ----------------------------------------------------------------------------------------

    def plan_apply(self, mset: MigrationSet, opts: RunOptions) -> list[str]:
        return self._call("planning", mset, self.executor.plan_apply, mset, opts)

    def apply(self, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._call("applying", mset, self.executor.apply, mset, opts, queries)

    def validate(self, mset: MigrationSet, opts: RunOptions) -> None:
        self._call("validating", mset, self.executor.validate, mset, opts)

    def plan_rollback(self, mset: MigrationSet, opts: RunOptions) -> list[str]:
        return self._call("planning the rollback", mset, self.executor.plan_rollback, mset, opts)

    def ensure_reversible(self, mset: MigrationSet) -> None:
        self._call("checking it can be rolled back", mset, self.executor.ensure_reversible, mset)

    def rollback(self, mset: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        self._call("rolling back", mset, self.executor.rollback, mset, opts, queries)

    def rule_checker(self, mset: MigrationSet | None) -> Any:
        """The executor's reads for validation rules (migrations/validation), every call through `_call`."""
        work = getattr(self.executor, "rule_checker", None)
        if work is None:
            raise DbopsError(f"the {self.name} part cannot check validation rules",
                             version=mset.version if mset is not None else None)
        return GuardedChecker(self._call("opening its validation reads", mset, work), self._call, mset)

    def record_status(self, mset: MigrationSet, status: str, *, error: str | None = None) -> None:
        self._call(f"recording status {status}", mset, self.executor.record_status, mset, status,
                   error=redact(error, self.known_secrets) if error else error)


def _part_path(mset: MigrationSet | None, part: str) -> Any:
    if mset is None:
        return None
    if part == "mongodb" and mset.mongodb is not None:
        return mset.mongodb.path
    if part == "postgres" and mset.postgres is not None:
        return mset.postgres.up_path or mset.path
    return mset.path

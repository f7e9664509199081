"""In-memory PartExecutor fakes for the coordinator tests: a ledger in a dict, every call in a shared journal."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    IrreversibleMigration,
    MigrationFailed,
    ValidationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    APPLIED,
    FAILED,
    ROLLED_BACK,
    LedgerEntry,
)


class FakeExecutor:
    """Keeps its ledger in memory and records every call in a shared journal."""

    def __init__(self, name, journal, *, fail_apply=(), fail_validate=(), fail_rollback=(), irreversible=(),
                 explode=None):
        self.name = name
        # (call, version or None) -> an exception of any type raised when that call happens (a driver's error)
        self.explode = dict(explode or {})
        self.journal = journal
        self.entries: dict[str, LedgerEntry] = {}
        self.fail_apply, self.fail_validate = set(fail_apply), set(fail_validate)
        self.fail_rollback, self.irreversible = set(fail_rollback), set(irreversible)
        self.locked = False

    def _log(self, call, version=None):
        self.journal.append((self.name, call) if version is None else (self.name, call, version))
        raw = self.explode.get((call, version))
        if raw is not None:
            raise raw

    def connect(self):
        self._log("connect")

    def close(self):
        self._log("close")

    def acquire_runner_lock(self, wait_s):
        self.locked = True
        self._log("lock")

    def release_runner_lock(self):
        self.locked = False
        self._log("unlock")

    def notes(self) -> list[str]:
        return []

    def ledger(self):
        self._log("ledger")
        return dict(self.entries)

    def has_part(self, mset):
        return self.name in mset.parts()

    def _checksum(self, mset):
        return getattr(mset, self.name).checksum

    def plan_apply(self, mset, opts):
        self._log("plan_apply", mset.version)
        return [f"{self.name} up {mset.version}"]

    def apply(self, mset, opts, queries):
        self._log("apply", mset.version)
        if mset.version in self.fail_apply:
            self.entries[mset.version] = LedgerEntry(mset.version, FAILED, self._checksum(mset))
            raise MigrationFailed(f"{self.name} apply failed", version=mset.version)
        self.entries[mset.version] = LedgerEntry(mset.version, APPLIED, self._checksum(mset))
        queries.append(f"{self.name} up {mset.version}")

    def validate(self, mset, opts):
        self._log("validate", mset.version)
        if mset.version in self.fail_validate:
            raise ValidationFailed(f"{self.name} validation failed", version=mset.version)

    def plan_rollback(self, mset, opts):
        return [f"{self.name} down {mset.version}"]

    def ensure_reversible(self, mset):
        self._log("ensure_reversible", mset.version)
        if mset.version in self.irreversible:
            raise IrreversibleMigration(f"{self.name} part has no down", version=mset.version)

    def rollback(self, mset, opts, queries):
        self._log("rollback", mset.version)
        if mset.version in self.fail_rollback:
            raise MigrationFailed(f"{self.name} rollback failed", version=mset.version)
        self.entries[mset.version] = LedgerEntry(mset.version, ROLLED_BACK, self._checksum(mset))

    def record_status(self, mset, status, *, error=None):
        self._log("record_status", mset.version)
        self._log("record_" + status, mset.version)
        self.entries[mset.version] = LedgerEntry(mset.version, status, self._checksum(mset), error=error)


def write_tree(root, sets):
    for name, parts in sets.items():
        directory = root / name
        directory.mkdir()
        if "postgres" in parts:
            (directory / "postgres.up.sql").write_text(f"SELECT '{name}';")
            (directory / "postgres.down.sql").write_text("SELECT 0;")
        if "mongodb" in parts:
            (directory / "mongodb.yml").write_text(f"# {name}\n")
    return root


def run_engine(root, executors, **kwargs):
    request = engine.RunRequest(migrations_dir=str(root), postgres_dsn="fake", mongodb_uri="fake", **kwargs)
    return engine.run(request, executors=executors)

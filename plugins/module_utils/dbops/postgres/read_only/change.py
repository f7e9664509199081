"""What the PostgreSQL read-only mode changes, recorded exactly so that disable undoes exactly that.

A change is planned by reading the catalogs (planner.plan_enable), written to the state file before anything is
changed, then applied (engage.enable). Each item carries the value that was there before, never the one we set:
disabling restores the recorded values, and a value that already matched the read-only target is not recorded at
all, so it stays as it was (a setting already on stays on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

READ_ONLY_SETTING = "default_transaction_read_only"
# The table privileges that write; column-level INSERT/UPDATE are recorded with their column.
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
# On a sequence, USAGE and UPDATE both allow nextval() (UPDATE also setval()): a fenced role that keeps either could
# advance the application's sequences, which is a write even when every table refuses the row.
SEQUENCE_PRIVILEGES = ("USAGE", "UPDATE")
PUBLIC = "PUBLIC"


@dataclass(frozen=True)
class RevokedGrant:
    """One ACL entry removed: privilege on an object (a table, one of its columns, a sequence, or a schema's CREATE)."""

    kind: str  # "table" | "column" | "sequence" | "schema"
    schema: str
    name: str | None  # table name; None for a schema
    column: str | None
    privilege: str
    grantee: str  # a role name or PUBLIC
    grantor: str
    grantable: bool

    @property
    def key(self) -> tuple:
        return (self.kind, self.schema, self.name, self.column, self.privilege, self.grantee, self.grantor)


@dataclass(frozen=True)
class RoleSetting:
    """A role's own default_transaction_read_only (all databases): previous is None when the role had none."""

    role: str
    previous: str | None
    target: str  # "on" for a fenced role, "off" for an exempt one

    @property
    def key(self) -> str:
        return self.role


@dataclass(frozen=True)
class SystemSetting:
    """The ALTER SYSTEM value of default_transaction_read_only before: None when postgresql.auto.conf had none."""

    previous: str | None


@dataclass
class PgReadOnlyChange:
    mode: str
    system: SystemSetting | None = None  # None: already on through ALTER SYSTEM, nothing to change
    role_settings: list[RoleSetting] = field(default_factory=list)
    revoked: list[RevokedGrant] = field(default_factory=list)
    fenced_roles: list[str] = field(default_factory=list)  # the roles the mode is about (for termination, probes)
    unfenced: list[str] = field(default_factory=list)  # superusers that are not exempt: grants cannot stop them

    @property
    def empty(self) -> bool:
        return self.system is None and not self.role_settings and not self.revoked

    def merged_into(self, recorded: PgReadOnlyChange) -> PgReadOnlyChange:
        """The recorded change plus what this plan adds; a recorded item wins, since it holds the older value.

        A rerun after a crash plans again over a half-changed server: the items already changed no longer show,
        and those still to do show with the same previous value, so the union is exactly what was there before.
        """
        settings = {item.key: item for item in self.role_settings}
        settings.update({item.key: item for item in recorded.role_settings})
        grants = {item.key: item for item in self.revoked}
        grants.update({item.key: item for item in recorded.revoked})
        return PgReadOnlyChange(
            mode=self.mode, system=recorded.system if recorded.system is not None else self.system,
            role_settings=list(settings.values()), revoked=list(grants.values()),
            fenced_roles=sorted(set(self.fenced_roles) | set(recorded.fenced_roles)), unfenced=self.unfenced)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PgReadOnlyChange:
        system = data.get("system")
        return cls(
            mode=data.get("mode", "hard"),
            system=SystemSetting(**system) if system is not None else None,
            role_settings=[RoleSetting(**item) for item in data.get("role_settings") or []],
            revoked=[RevokedGrant(**item) for item in data.get("revoked") or []],
            fenced_roles=list(data.get("fenced_roles") or []), unfenced=list(data.get("unfenced") or []))

"""The record of what emergency read-only mode changed on one MongoDB database: exactly what disable() restores.

It is JSON (to_dict/from_dict) so the orchestration can store it before anything is changed and a rerun after a
crash can undo it. A role is written as {"role": name, "db": database}; a user as "name@database".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WRITE_BLOCK = "write_block"
ROLE_REVOCATION = "role_revocation"


@dataclass
class MongoReadOnlyChange:
    """mode: WRITE_BLOCK (setUserWriteBlockMode) or ROLE_REVOCATION (the fallback without it).

    write_block_set: we turned the cluster's user write block on (False when it was already on: then disable leaves
    it on). bypass_role_created / bypass_granted: the role carrying bypassWriteBlockingMode and the exempt users we
    gave it. revoked / granted: per user, the roles taken away and the read equivalents given instead.
    application_users: the non-exempt users holding roles on the database when the plan was made (verify probes them).
    """

    database: str
    mode: str
    write_block_set: bool = False
    bypass_role_created: bool = False
    bypass_granted: list[str] = field(default_factory=list)
    revoked: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    granted: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    application_users: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.write_block_set or self.bypass_role_created or self.bypass_granted
                    or any(self.revoked.values()) or any(self.granted.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "mode": self.mode,
            "write_block_set": self.write_block_set,
            "bypass_role_created": self.bypass_role_created,
            "bypass_granted": list(self.bypass_granted),
            "revoked": {user: [dict(r) for r in roles] for user, roles in self.revoked.items()},
            "granted": {user: [dict(r) for r in roles] for user, roles in self.granted.items()},
            "application_users": list(self.application_users),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MongoReadOnlyChange:
        return cls(
            database=str(data["database"]),
            mode=str(data["mode"]),
            write_block_set=bool(data.get("write_block_set", False)),
            bypass_role_created=bool(data.get("bypass_role_created", False)),
            bypass_granted=[str(u) for u in data.get("bypass_granted", [])],
            revoked={str(u): [_role(r) for r in roles] for u, roles in (data.get("revoked") or {}).items()},
            granted={str(u): [_role(r) for r in roles] for u, roles in (data.get("granted") or {}).items()},
            application_users=[str(u) for u in data.get("application_users", [])],
            notes=[str(n) for n in data.get("notes", [])],
        )


def _role(raw: dict[str, Any]) -> dict[str, str]:
    return {"role": str(raw["role"]), "db": str(raw["db"])}

"""Which lines of `pg_dumpall --roles-only` are applied to the target: those of roles the target lacks.

A role the target already has is left exactly as it is: its CREATE would fail, and its ALTER ROLE would rewrite
the target's own attributes and password (the bootstrap superuser's included). Skipping them by name, rather than
running every line and ignoring errors, keeps every other error fatal. Memberships (GRANT role TO role) are kept
when they involve a new role; a membership granted again is only a notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = r'("(?:[^"]|"")*"|[^\s";]+)'
_ROLE_LINE = re.compile(r"^(?:CREATE|ALTER) ROLE " + _IDENTIFIER)
_GRANT_LINE = re.compile(r"^GRANT " + _IDENTIFIER + " TO " + _IDENTIFIER)


@dataclass(frozen=True)
class RoleScript:
    statements: list[str]  # to run on the target, in order (they may carry password hashes: never shown)
    created: list[str]  # the roles they create
    skipped: list[str]  # roles the target already has


def _name(identifier: str) -> str:
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()  # pg_dumpall quotes every name that is not already lower case


def role_script(dump: str, existing: set[str]) -> RoleScript:
    statements: list[str] = []
    created: list[str] = []
    skipped: list[str] = []
    for line in dump.splitlines():
        role = _ROLE_LINE.match(line)
        if role:
            name = _name(role.group(1))
            if name in existing:
                if name not in skipped:
                    skipped.append(name)
                continue
            if line.startswith("CREATE"):
                created.append(name)
            statements.append(line)
            continue
        grant = _GRANT_LINE.match(line)
        if grant and (_name(grant.group(1)) in created or _name(grant.group(2)) in created):
            statements.append(line)
    return RoleScript(statements, created, skipped)

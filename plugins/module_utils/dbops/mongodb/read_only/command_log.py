"""THE one way read-only mode runs a command that changes the server: it is written to `queries` first, redacted.

Every grant, revoke, write-block switch, user creation and kill goes through run_change(), so the module's
`queries` lists exactly what was sent, and no password (a probe user's) ever appears in it.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import MASK, redact


def describe(database: str, command: dict[str, Any]) -> str:
    shown = {key: (MASK if key == "pwd" else value) for key, value in command.items()}
    return redact(f"use {database}; db.runCommand({json.dumps(shown, default=str, sort_keys=False)})")


def run_change(client: Any, database: str, command: dict[str, Any], queries: list[str],
               known_secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    queries.append(redact(describe(database, command), known_secrets))
    return client[database].command(command)

"""Flyway's placeholders: ${name} in a Flyway migration is replaced by the value the run was given for it.

One pass over the text, so a value that itself holds ${...} is not replaced again. Every ${...} must be known:
Flyway fails on an unknown placeholder rather than running SQL with the literal text, and so does this. Flyway's
built-in ${flyway:filename} is the file's name; the other flyway:* values are given like any other placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def replace_placeholders(text: str, values: Mapping[str, object], path: Path, version: str) -> str:
    """The text with every ${name} replaced; MigrationFormatError naming the file, line and name for an unknown one."""
    known = {"flyway:filename": path.name, **{name: str(value) for name, value in values.items()}}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            line = text.count("\n", 0, match.start()) + 1
            given = ", ".join(sorted(n for n in known if n != "flyway:filename")) or "none"
            raise MigrationFormatError(f"line {line}: unknown placeholder ${{{name}}}: give it in placeholders "
                                       f"(placeholders given: {given})", version=version, path=path)
        return known[name]

    return _PLACEHOLDER.sub(value, text)

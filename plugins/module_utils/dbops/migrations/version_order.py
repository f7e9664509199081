"""Natural ordering of version strings: 1 < 2 < 10, 2024.001 < 2024.010 < 2025.001.

Versions are always reported exactly as written (leading zeros kept); only comparisons use the key.
"""

from __future__ import annotations

import re

_CHUNK = re.compile(r"\d+|[^\d]+")
# "0" is the target that means "before the first set".
ZERO = "0"

VersionKey = tuple[tuple[int, int, str], ...]


def version_key(version: str) -> VersionKey:
    """Sort key: digit runs compare as numbers, other runs as text (separators ., _ and - compare equal)."""
    key = []
    for chunk in _CHUNK.findall(version.strip()):
        if chunk.isdigit():
            key.append((0, int(chunk), ""))
        elif chunk in (".", "_", "-"):
            key.append((1, 0, "."))
        else:
            key.append((2, 0, chunk))
    return tuple(key)


def is_zero(version: str) -> bool:
    """True for "0", "00", ... : the target before the first set."""
    return bool(version.strip()) and all(ch == "0" for ch in version.strip())


def same_version(a: str, b: str) -> bool:
    return version_key(a) == version_key(b)


def sort_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=version_key)

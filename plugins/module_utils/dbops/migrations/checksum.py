"""sha256 over a part's files, so that drift (an applied set whose files changed) can be detected."""

from __future__ import annotations

import hashlib


def part_checksum(files: list[tuple[str, bytes]]) -> str:
    """Hash of (name, content) pairs; names are included so moving SQL between up and down counts as a change."""
    digest = hashlib.sha256()
    for name, content in sorted(files):
        digest.update(name.encode("utf-8"))
        digest.update(b"\0")
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()

"""Flyway's checksum of a migration file: CRC-32 over the file's lines, without their line terminators.

As Flyway documents and computes it: the file is read as UTF-8 line by line (a line ends at \\n, \\r\\n or \\r, the
way Java's BufferedReader.readLine splits), a byte order mark at the start is dropped, each line's UTF-8 bytes
without its terminator are fed to one CRC-32, and the value is stored in flyway_schema_history.checksum as a
signed 32-bit integer. So line endings (CRLF vs LF) and a final newline do not change it.

Verified (tests/unit/postgres/adopt/test_flyway_checksum.py): "123456789\\n" gives the CRC-32 catalogue's check value
of "123456789", 0xCBF43926, stored signed as -873187034; the same digits split over CRLF-ended lines give the same.
"""

from __future__ import annotations

import re
import zlib

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


def flyway_lines(text: str) -> list[str]:
    """The lines as Java's readLine returns them: a terminator at the very end opens no extra line."""
    if text.startswith(_BOM):
        text = text[len(_BOM):]
    if not text:
        return []
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def flyway_checksum(text: str) -> int:
    """The value Flyway records for a file with this content (a signed 32-bit integer)."""
    crc = 0
    for line in flyway_lines(text):
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= (1 << 31) else crc

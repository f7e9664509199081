"""Reading a migration file as text: UTF-8 only, with a message naming the file and the offset of what is not.

A UTF-8 byte-order mark is accepted and stripped. Editors on Windows write one without being asked, an operator
expects such a file to work, and PostgreSQL would otherwise read U+FEFF as part of the first statement. It is
stripped before the checksum is taken, so saving the same SQL with or without a BOM is not drift.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_source(data: bytes, path: Path) -> str:
    """The text of a file's bytes, BOM stripped; MigrationFormatError naming the first byte that is not UTF-8."""
    if data.startswith(_UTF16_BOMS):
        raise MigrationFormatError("is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8", path=path)
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skipped + exc.start
        line = data[:offset].count(b"\n") + 1
        raise MigrationFormatError(f"is not valid UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} "
                                   f"(line {line}) {exc.reason}; save the file as UTF-8", path=path) from None


def read_source(path: Path) -> str:
    """The file's text (see decode_source); an unreadable file is a MigrationFormatError naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MigrationFormatError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    return decode_source(data, path)

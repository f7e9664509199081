"""Flyway's checksum: CRC-32 over the file's lines without terminators, stored as a signed 32-bit integer."""

from __future__ import annotations

import zlib

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway_checksum import (
    flyway_checksum,
    flyway_lines,
)

# The CRC-32 catalogue's check value: CRC-32 of the nine ASCII digits "123456789" is 0xCBF43926.
CHECK_VALUE = 0xCBF43926


def test_the_check_value_of_crc32_is_stored_signed():
    assert zlib.crc32(b"123456789") == CHECK_VALUE
    assert flyway_checksum("123456789\n") == CHECK_VALUE - (1 << 32) == -873187034


def test_line_terminators_and_the_final_newline_do_not_count():
    # The lines' bytes are hashed one after the other, without \n, \r\n or \r between them.
    for text in ("1234\n56789\n", "1234\r\n56789", "1234\r56789\r\n", "\ufeff123456789"):
        assert flyway_checksum(text) == -873187034, repr(text)


def test_blank_lines_are_lines():
    assert flyway_lines("a\n\nb\n") == ["a", "", "b"]
    assert flyway_lines("a\n\n") == ["a", ""]
    assert flyway_lines("") == [] and flyway_checksum("") == 0


def test_a_value_below_2_to_the_31_stays_positive():
    text = "CREATE TABLE t (id int);\n"
    expected = zlib.crc32(b"CREATE TABLE t (id int);")
    expected = expected - (1 << 32) if expected >= 1 << 31 else expected
    assert flyway_checksum(text) == expected
    assert -(1 << 31) <= flyway_checksum(text) < 1 << 31

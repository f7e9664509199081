"""DbopsError redacts its own message: whatever a raise site quotes, str() and .message carry no password."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    ConnectionFailed,
    DbopsError,
    MigrationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import MASK


@pytest.mark.parametrize("cls", [DbopsError, ConnectionFailed, MigrationFailed])
def test_message_and_str_are_redacted(cls):
    err = cls("cannot connect to postgresql://app:hunter2@db/x and password=hunter2 again", version="3", path="a/b.sql")
    assert "hunter2" not in err.message and "hunter2" not in str(err) and "hunter2" not in repr(err)
    assert str(err) == f"3 (a/b.sql): cannot connect to postgresql://app:{MASK}@db/x and password={MASK} again"
    assert "hunter2" not in " ".join(map(str, err.args))


def test_a_message_replaced_later_is_redacted_when_rendered():
    err = DbopsError("first")
    err.message = "ALTER ROLE app PASSWORD 'late'"
    assert "late" not in str(err)


def test_a_subclass_with_its_own_str_is_redacted():
    class Custom(DbopsError):
        def __str__(self) -> str:
            return "mongodb://u:leaky@h/"

    assert str(Custom("x")) == f"mongodb://u:{MASK}@h/"


def test_text_without_secrets_is_kept():
    assert str(DbopsError("set 2 failed: relation users does not exist", version="2")) == \
        "2: set 2 failed: relation users does not exist"

"""The secrets the modules register for masking, found in DSNs and URIs of every shape."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
    secrets_in_connection_string,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://app:s3cret-pw@db:5432/platform", ["s3cret-pw"]),
        ("postgresql://app:p%40ss%2Fword@db/platform", ["p%40ss%2Fword", "p@ss/word"]),
        ("host=db user=app password=s3cret-pw dbname=platform", ["s3cret-pw"]),
        ("host=db password='with space\\'s' dbname=platform", ["with space's"]),
        ("mongodb://admin:m0ngo-pw@h1:27017,h2:27017/?replicaSet=rs0", ["m0ngo-pw"]),
        ("postgresql://app@db/platform", []),
        ("host=db user=app", []),
        (None, []),
        ("postgresql://app:ab@db/platform", []),  # too short to mask without mangling other output
    ],
)
def test_secrets_in_connection_string(value, expected):
    assert secrets_in_connection_string(value) == sorted(expected)


def test_connection_secrets_reads_both_connections():
    params = {"postgres_dsn": "postgresql://a:pg-secret@h/d", "mongodb_uri": "mongodb://b:mongo-secret@h/"}
    assert connection_secrets(params) == ["pg-secret", "mongo-secret"]


def test_argument_spec_marks_connection_strings_no_log():
    spec = connection_argument_spec()
    assert spec["postgres_dsn"]["no_log"] and spec["mongodb_uri"]["no_log"]
    assert "no_log" not in spec["mongodb_database"]
    marker = object()
    assert connection_argument_spec(marker)["postgres_dsn"]["fallback"] == (marker, ["DBOPS_POSTGRES_DSN"])

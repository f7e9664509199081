"""core.secrets.redact: every way a password reaches a message, and text without one left alone."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import MASK, redact, redact_value


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://app:hunter2@db:5432/x", f"postgresql://app:{MASK}@db:5432/x"),
    ("postgres://app:p%w@rd@db/x?sslmode=require", f"postgres://app:{MASK}@db/x?sslmode=require"),
    ("mongodb://admin:s3cr%t@x@h1:27017,h2:27017/?authSource=admin",
     f"mongodb://admin:{MASK}@h1:27017,h2:27017/?authSource=admin"),
    ("mongodb+srv://u:a@b%c@cluster.example.net/app", f"mongodb+srv://u:{MASK}@cluster.example.net/app"),
    ("cannot connect to 'mongodb://u:pw@h/'", f"cannot connect to 'mongodb://u:{MASK}@h/'"),
])
def test_uri_passwords_are_masked_whole(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(("text", "secret"), [
    ("host=db password=hunter2 user=app", "hunter2"),
    ("host=db password='hun ter2' user=app", "hun ter2"),
    ("host=db password = 'it\\'s' user=app", "it\\'s"),
    ("host=db PASSWORD=Hunter2", "Hunter2"),
    ("dbname=x password=p@ss%20w", "p@ss%20w"),
])
def test_key_value_passwords(text, secret):
    masked = redact(text)
    assert secret not in masked and MASK in masked
    assert masked.startswith(text.split("password")[0].split("PASSWORD")[0])
    assert "user=app" in masked or "user=app" not in text


@pytest.mark.parametrize(("text", "secrets", "kept"), [
    ("CREATE ROLE app LOGIN PASSWORD 'hunter2'", ["hunter2"], "CREATE ROLE app LOGIN PASSWORD"),
    ("CREATE ROLE app PASSWORD 'it''s secret' VALID UNTIL 'infinity'", ["it''s secret", "s secret"],
     "VALID UNTIL 'infinity'"),
    ("ALTER USER app WITH ENCRYPTED PASSWORD 'md5abc'", ["md5abc"], "ALTER USER app WITH ENCRYPTED PASSWORD"),
    ("ALTER ROLE app PASSWORD E'a\\'b'", ["a\\'b"], "ALTER ROLE app PASSWORD"),
    ("ALTER ROLE app PASSWORD $$dollar$$", ["dollar"], "ALTER ROLE app PASSWORD"),
    ("CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'x', password 'pw''1')", ["pw''1", "'1'"],
     "OPTIONS (user 'x', password"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub dbname=app user=rep password=s3cr3t sslmode=require' "
     "PUBLICATION p", ["s3cr3t"], "sslmode=require' PUBLICATION p"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub password=''q u ote'' user=rep' PUBLICATION p",
     ["q u", "ote"], "user=rep' PUBLICATION p"),
    ("SELECT dblink_connect('conn', 'host=h dbname=d password=dbl1nk user=u')", ["dbl1nk"], "user=u')"),
    ("SELECT * FROM dblink('host=h password=x9y8 dbname=d', 'select 1') AS t(a int)", ["x9y8"],
     "dbname=d', 'select 1')"),
    ("CREATE SERVER s FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host 'h', dbname 'd'); "
     "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password 'fdwpw')", ["fdwpw"], "OPTIONS (host 'h'"),
])
def test_sql_passwords(text, secrets, kept):
    masked = redact(text)
    for secret in secrets:
        assert secret not in masked
    assert kept in masked and MASK in masked


@pytest.mark.parametrize("text", [
    "",
    "applied 3 sets to app@db:5432/app",
    "CREATE TABLE users (id int, password_hash text)",
    "ALTER TABLE users ADD COLUMN password text",
    "SELECT 'a:b@c' AS odd, email FROM users WHERE email = 'x@y.z'",
    "see https://example.org/docs and postgresql://db:5432/app",
    "mongodb://h1:27017,h2:27017/?replicaSet=rs0",
    "user=app host=db dbname=app",
])
def test_text_without_secrets_is_unchanged(text):
    assert redact(text) == text


def test_an_empty_quoted_password_keeps_the_rest():
    assert redact("host=db password='' user=app") == f"host=db password={MASK} user=app"


def test_known_secrets_are_masked_anywhere():
    assert redact("the token abcdef leaked", known=["abcdef", "", "ab"]) == f"the token {MASK} leaked"


def test_mapping_passwords_and_nested_values():
    value = {"dsn": "postgresql://u:pw1@h/d", "items": ["password=pw2", ("{'password': 'pw3'}",)], "n": 3}
    redacted = redact_value(value)
    assert "pw1" not in str(redacted) and "pw2" not in str(redacted) and "pw3" not in str(redacted)
    assert redacted["n"] == 3 and isinstance(redacted["items"][1], tuple)

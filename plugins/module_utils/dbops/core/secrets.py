"""One redaction for every text that leaves the engine: results, plans, ledger rows, reports and error messages.

Passwords hide in connection URIs (postgresql://, mongodb://, mongodb+srv://, with unencoded '%' and '@' in the
password), in libpq key=value strings (password=..., quoted or not, also inside a SQL literal such as dblink's or a
subscription's CONNECTION '...'), and in SQL literals after the PASSWORD keyword (CREATE/ALTER ROLE ... PASSWORD '...',
CREATE USER MAPPING ... OPTIONS (password '...')).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "********"

# scheme://user:password@host — the password runs to the last '@' before the host, so an unencoded '@' or '%' in
# it is masked whole. The host part that follows holds no '@', '/', quote or space.
_URI_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)([^\s'\"]*)(@[^\s@/'\"?]*)")
# password=value in libpq key=value strings. Inside a SQL literal (CONNECTION '...', dblink('...')) libpq's quotes
# are doubled: ''quoted value'' is tried first, else its opening '' would read as an empty '' value and leave the
# password behind. A bare value ends at a space or at the quote that closes the SQL literal.
_KV_PASSWORD = re.compile(
    r"(\bpassword\s*=\s*)(''(?:[^']|'(?!'))*''|'(?:[^'\\]|\\.)*'(?!')|[^\s']+)", re.IGNORECASE)
# PASSWORD 'literal' (role passwords, user mapping options), E'' and dollar-quoted literals included.
_SQL_PASSWORD = re.compile(
    r"(\bpassword\s+)(E?'(?:[^']|'')*'|\$(?P<tag>\w*)\$.*?\$(?P=tag)\$)", re.IGNORECASE | re.DOTALL)
# "password": "..." in JSON or Python reprs of settings.
_MAPPING_PASSWORD = re.compile(
    r"""((["'])(?:password|secret_key|s3_secret_key|aws_secret_access_key)\2\s*:\s*)(["'])(?:(?!\3).)*\3""",
    re.IGNORECASE)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """text with every password it carries replaced by MASK; known secret values are masked wherever they appear."""
    if not text:
        return text
    text = _URI_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _SQL_PASSWORD.sub(lambda m: f"{m.group(1)}'{MASK}'", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _MAPPING_PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(3)}{MASK}{m.group(3)}", text)
    for secret in known:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any, known: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string redacted."""
    known = tuple(known)
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, dict):
        return {key: redact_value(item, known) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item, known) for item in value)
    return value

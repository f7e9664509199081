# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every sevenp.dbops module (documented in doc_fragments/connection.py).

This file is Ansible-side glue: it only describes arguments and finds the secrets inside them so a module can
register them with AnsibleModule.no_log_values. It imports nothing from Ansible and nothing third-party.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# Environment variables a controller (for example an AWX custom credential type) can inject instead of
# passing the secrets as task arguments. They are read through Ansible's env_fallback by the modules.
POSTGRES_DSN_ENV = "DBOPS_POSTGRES_DSN"
MONGODB_URI_ENV = "DBOPS_MONGODB_URI"
MONGODB_DATABASE_ENV = "DBOPS_MONGODB_DATABASE"

# key=value connection strings (libpq) can carry the password as password=... with optional quoting.
_KEYWORD_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))")


def connection_argument_spec(env_fallback=None) -> dict:
    """The argument_spec entries for postgres_dsn, mongodb_uri and mongodb_database.

    env_fallback is ansible.module_utils.basic.env_fallback, passed in by the module so this file stays free of
    Ansible imports (and importable by the engine's tests).
    """

    def fallback(variable: str) -> dict:
        return {"fallback": (env_fallback, [variable])} if env_fallback is not None else {}

    return {
        "postgres_dsn": {"type": "str", "no_log": True, **fallback(POSTGRES_DSN_ENV)},
        "mongodb_uri": {"type": "str", "no_log": True, **fallback(MONGODB_URI_ENV)},
        "mongodb_database": {"type": "str", **fallback(MONGODB_DATABASE_ENV)},
    }


def secrets_in_connection_string(value: str | None) -> list[str]:
    """The passwords inside a DSN or URI, raw and URL-decoded.

    Ansible masks a no_log parameter's whole value in the output; a driver error message may however quote only
    a part of it (the password, or the URL with the password decoded), so those parts are masked too.
    """
    if not value:
        return []
    found: list[str] = []
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        # urlsplit only understands one host; MongoDB seed lists ("h1:1,h2:2") still have user:password@ first.
        if password is None:
            netloc = value.split("://", 1)[1].split("/", 1)[0]
            userinfo = netloc.rpartition("@")[0]
            if ":" in userinfo:
                password = userinfo.split(":", 1)[1]
        if password:
            found.extend([password, unquote(password)])
    else:
        for quoted, bare in _KEYWORD_PASSWORD.findall(value):
            password = quoted.replace("\\'", "'").replace("\\\\", "\\") if quoted else bare
            if password:
                found.append(password)
    # Masking very short strings would mangle unrelated output (a password "a" would hide every "a").
    return sorted({secret for secret in found if len(secret) >= 3})


def connection_secrets(params: dict) -> list[str]:
    """Every secret found in the module parameters' connection strings."""
    secrets: list[str] = []
    for name in ("postgres_dsn", "mongodb_uri"):
        secrets.extend(secrets_in_connection_string(params.get(name)))
    return secrets

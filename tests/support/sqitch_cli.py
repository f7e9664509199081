"""The real Sqitch command line (Debian package sqitch, with libdbd-pg-perl for its PostgreSQL engine) and a sample
Sqitch project: changes with requirements, a tag, a reworked change, deploy/revert/verify scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PLANNER = "Ann Op <ann@example.com>"

PLAN = f"""%syntax-version=1.0.0
%project=flipr
%uri=https://example.com/flipr/

# Comments and blank lines are part of a plan too.
appschema 2024-01-01T10:00:00Z {PLANNER} # App schema.
users [appschema] 2024-01-02T10:00:00Z {PLANNER} # Users table.
insert_user [users appschema] 2024-01-03T10:00:00Z {PLANNER} # Adds a user (md5 password).
@v1.0 2024-01-04T10:00:00Z {PLANNER} # First release.

insert_user [insert_user@v1.0] 2024-01-05T10:00:00Z {PLANNER} # Adds a user (sha256 password).
flips [users] 2024-01-06T10:00:00Z {PLANNER} # Flips: what users say.
"""

_MD5_FUNCTION = ("CREATE OR REPLACE FUNCTION flipr.insert_user(nickname text, pass text) RETURNS void "
                 "LANGUAGE sql AS $$\n    INSERT INTO flipr.users VALUES ($1, md5($2));\n$$;\n")
_SHA_FUNCTION = ("CREATE OR REPLACE FUNCTION flipr.insert_user(nickname text, pass text) RETURNS void "
                 "LANGUAGE sql AS $$\n    INSERT INTO flipr.users VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), "
                 "'hex'));\n$$;\n")


def _script(kind: str, change: str, body: str, end: str = "COMMIT") -> str:
    return f"-- {kind} flipr:{change} on pg\n\nBEGIN;\n\n{body}\n{end};\n"


SCRIPTS = {
    "deploy/appschema.sql": _script("Deploy", "appschema", "CREATE SCHEMA flipr;"),
    "revert/appschema.sql": _script("Revert", "appschema", "DROP SCHEMA flipr;"),
    "verify/appschema.sql": _script("Verify", "appschema", "SELECT pg_catalog.has_schema_privilege('flipr', "
                                    "'usage');", "ROLLBACK"),
    "deploy/users.sql": _script("Deploy", "users", "CREATE TABLE flipr.users (\n    nickname text PRIMARY KEY,\n"
                                "    password text NOT NULL\n);"),
    "revert/users.sql": _script("Revert", "users", "DROP TABLE flipr.users;"),
    "verify/users.sql": _script("Verify", "users", "SELECT nickname, password FROM flipr.users WHERE FALSE;",
                                "ROLLBACK"),
    "deploy/insert_user@v1.0.sql": _script("Deploy", "insert_user", _MD5_FUNCTION),
    "revert/insert_user@v1.0.sql": _script("Revert", "insert_user", "DROP FUNCTION flipr.insert_user(text, text);"),
    "verify/insert_user@v1.0.sql": _script("Verify", "insert_user", "SELECT has_function_privilege("
                                           "'flipr.insert_user(text, text)', 'execute');", "ROLLBACK"),
    "deploy/insert_user.sql": _script("Deploy", "insert_user", _SHA_FUNCTION),
    "revert/insert_user.sql": _script("Revert", "insert_user", _MD5_FUNCTION),
    "verify/insert_user.sql": _script("Verify", "insert_user", "SELECT 1/(position('sha256' in "
                                      "pg_get_functiondef('flipr.insert_user(text, text)'::regprocedure)) > 0)"
                                      "::int;", "ROLLBACK"),
    "deploy/flips.sql": _script("Deploy", "flips", "CREATE TABLE flipr.flips (\n    id bigserial PRIMARY KEY,\n"
                                "    nickname text NOT NULL REFERENCES flipr.users,\n    body text NOT NULL\n);"),
    "revert/flips.sql": _script("Revert", "flips", "DROP TABLE flipr.flips;"),
    "verify/flips.sql": _script("Verify", "flips", "SELECT id, nickname, body FROM flipr.flips WHERE FALSE;",
                                "ROLLBACK"),
}


def write_project(root: Path, plan: str = PLAN, scripts: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sqitch.plan").write_text(plan)
    (root / "sqitch.conf").write_text("[core]\n\tengine = pg\n\t# top_dir = .\n")
    for relative, text in (SCRIPTS if scripts is None else scripts).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def sqitch_binary() -> str:
    found = shutil.which("sqitch")
    if found is None:
        pytest.fail("the sqitch command is not installed: run `make setup` (it installs the Debian packages sqitch "
                    "and libdbd-pg-perl)")
    return found


def target(dsn: str) -> str:
    """Sqitch's database URI for a libpq URI (postgresql://user:pw@host:port/db -> db:pg://user:pw@host:port/db)."""
    return "db:pg://" + dsn.split("://", 1)[1]


def sqitch(project: Path, *args: str, dsn: str, home: Path) -> str:
    """Runs `sqitch <args> <target>` in the project; the output, or a test failure showing Sqitch's error."""
    env = {**os.environ, "HOME": str(home), "SQITCH_FULLNAME": "Ann Op", "SQITCH_EMAIL": "ann@example.com",
           "TZ": "UTC"}
    done = subprocess.run([sqitch_binary(), *args, target(dsn)], cwd=project, env=env, capture_output=True,
                          text=True, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"sqitch {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout

"""Each way of applying the N migrations to an empty database. Every contender gets its own fresh database.

A contender is a callable taking the database's DSN; the caller times it from the outside, so process start-up
(dbmate, Sqitch, ansible-playbook) counts, as it does for a user.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.support.repo_paths import ROOT, VENV_BIN, VENV_PYTHON


@dataclass
class Contender:
    name: str
    apply: Callable[[str], None] | None  # None: not built yet (engine or playbook still missing)
    note: str = ""


def bare_loop(native_dir: Path) -> Callable[[str], None]:
    """The floor: one connection, one transaction per migration holding its DDL and one ledger insert."""
    set_dirs = sorted(path for path in native_dir.iterdir() if path.is_dir())

    def apply(dsn: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_ledger (version text PRIMARY KEY,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")
            for set_dir in set_dirs:
                version = set_dir.name.split("_", 1)[0]
                ddl = (set_dir / "postgres.up.sql").read_text()
                with conn.transaction():
                    conn.execute(ddl)  # type: ignore[arg-type]  # trusted, generated SQL
                    conn.execute("INSERT INTO bench_ledger (version) VALUES (%s)", (version,))

    return apply


def engine_in_process(native_dir: Path) -> Callable[[str], None]:
    """sevenp.dbops' engine called directly, as the migrate module calls it."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine

    def apply(dsn: str) -> None:
        request = engine.RunRequest(migrations_dir=str(native_dir), state="applied", target="latest", postgres_dsn=dsn)
        result = engine.run(request)
        if len(result.applied) != count_sets(native_dir):
            raise RuntimeError(f"engine applied {len(result.applied)} sets, expected {count_sets(native_dir)}")

    return apply


def count_sets(native_dir: Path) -> int:
    return sum(1 for path in native_dir.iterdir() if path.is_dir())


def _ansible_env() -> dict[str, str]:
    return dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_PYTHON_INTERPRETER=str(VENV_PYTHON),
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        ANSIBLE_NOCOLOR="1",
    )


def _run(argv: list[str], what: str, **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")


def playbook(native_dir: Path, work_dir: Path, extra_vars: dict[str, object]) -> Callable[[str], None]:
    """The whole `ansible-playbook playbooks/migrate.yml` run on localhost with a local connection."""

    def apply(dsn: str) -> None:
        vars_file = work_dir / "playbook-vars.json"
        vars_file.write_text(json.dumps({"dbops_postgres_dsn": dsn, "dbops_migrations_dir": str(native_dir),
                                         **extra_vars}))
        vars_file.chmod(0o600)
        _run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "playbooks/migrate.yml",
              "-e", f"@{vars_file}", "-e", "dbops_target=localhost"],
             "ansible-playbook playbooks/migrate.yml", cwd=ROOT, env=_ansible_env())

    return apply


def empty_playbook(work_dir: Path) -> Callable[[str], None]:
    """Ansible's fixed cost: ansible-playbook running one ping task on localhost. A reference, not a contender."""
    path = work_dir / "empty-playbook.yml"
    path.write_text("- name: Empty run\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - name: Ping\n      ansible.builtin.ping:\n")

    def apply(_dsn: str) -> None:
        _run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)],
             "empty ansible-playbook", cwd=ROOT, env=_ansible_env())

    return apply


def dbmate(binary: Path, migrations_dir: Path) -> Callable[[str], None]:
    def apply(dsn: str) -> None:
        parts = urlsplit(dsn)
        url = urlunsplit(("postgres", parts.netloc, parts.path, "sslmode=disable", ""))
        _run([str(binary), "--url", url, "--migrations-dir", str(migrations_dir), "--no-dump-schema", "migrate"],
             "dbmate migrate")

    return apply


def sqitch(project_dir: Path) -> Callable[[str], None]:
    env = dict(os.environ, SQITCH_FULLNAME="Bench", SQITCH_EMAIL="bench@example.invalid")

    def apply(dsn: str) -> None:
        parts = urlsplit(dsn)
        target = urlunsplit(("db:pg", parts.netloc, parts.path, "", ""))
        _run(["sqitch", "deploy", "--target", target], "sqitch deploy", cwd=project_dir, env=env)

    return apply

"""The collection's playbooks run from an installed collection (as an AWX project installs it): they refuse to
plan without dbops_migrations_dir instead of planning the collection's sample migrations, and never write their
reports inside the installed collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sample_sets import postgres_sample_sets

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The collection built and installed into a collections directory of its own; returns that directory."""
    work = tmp_path_factory.mktemp("installed")
    built = run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(work),
                 str(ROOT)], cwd=ROOT)
    assert built.returncode == 0, built.stderr
    (tarball,) = work.glob("sevenp-dbops-*.tar.gz")
    collections = work / "collections"
    done = run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(collections),
                str(tarball)], cwd=work)
    assert done.returncode == 0, done.stderr
    return collections


def playbook(installed: Path, cwd: Path, variables: dict, *extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook sevenp.dbops.migrate from a directory outside the checkout, with only the installed copy
    on the collections path (an empty ansible.cfg: not the checkout's, which points at the checkout)."""
    (cwd / "ansible.cfg").write_text("[defaults]\n")
    (cwd / "vars.json").write_text(json.dumps(variables))
    env = {**os.environ, "ANSIBLE_CONFIG": str(cwd / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(installed),
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
           "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""), "PWD": str(cwd)}
    return run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "sevenp.dbops.migrate",
                "-e", "@vars.json", "-e", "dbops_target=localhost", "-e", "dbops_lint_enabled=false", *extra],
               cwd=cwd, env=env)


def test_installed_playbooks_need_the_migrations_dir_and_write_reports_outside(installed, pg_db, tmp_path):
    collection = installed / "ansible_collections" / "sevenp" / "dbops"
    assert (collection / "MANIFEST.json").is_file() and (collection / "migrations").is_dir()

    refused = playbook(installed, tmp_path, {"dbops_postgres_dsn": pg_db}, "--check")
    assert refused.returncode != 0
    assert "dbops_migrations_dir is required when the playbooks run from an installed collection" in refused.stdout, \
        refused.stdout[-3000:]
    assert not (collection / "reports").exists()

    project = tmp_path / "project"
    migrations = postgres_sample_sets(project / "migrations")
    planned = playbook(installed, tmp_path, {"dbops_postgres_dsn": pg_db, "dbops_migrations_dir": str(migrations)},
                       "--check")
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-2000:]
    (report,) = (project / "reports").glob("apply-*.json")
    assert json.loads(report.read_text())["planned"][0] == "2023.001"
    assert not (collection / "reports").exists()

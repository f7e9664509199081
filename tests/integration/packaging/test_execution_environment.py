"""The execution environment's build context is complete: ansible-builder writes it from execution-environment.yml,
every file its Containerfile copies is in it, and the collection tarball it installs carries the Python and system
dependencies ansible-builder's introspection finds. (A container build is not possible on this machine.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# Tool state and caches that must never ship in the collection.
NEVER_SHIPPED = (".venv/", "build/", ".ansible/", ".ruff_cache/", ".mypy_cache/", ".pytest_cache/", "reports/",
                 ".demo/", "bench/results/", "tests/output/", "__pycache__/")


def run(*argv: str, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), str(ROOT),
        cwd=ROOT)
    (tarball,) = out.glob("sevenp-dbops-*.tar.gz")
    return tarball


def test_the_tarball_holds_the_collection_and_no_tool_state(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        names = tar.getnames()
    for needed in ("galaxy.yml", "MANIFEST.json", "meta/runtime.yml", "meta/execution-environment.yml",
                   "requirements.txt", "bindep.txt", "plugins/modules/migrate.py", "roles/migrate/tasks/main.yml"):
        if needed != "galaxy.yml":  # the build turns galaxy.yml into MANIFEST.json
            assert needed in names, needed
    shipped = [name for name in names if any(f"/{part}" in f"/{name}/" for part in NEVER_SHIPPED)]
    assert shipped == []


def test_ansible_builder_writes_a_complete_build_context(collection_tarball, tmp_path):
    project = tmp_path / "project"
    (project / "build" / "ee").mkdir(parents=True)
    shutil.copy(ROOT / "execution-environment.yml", project)
    shutil.copy(collection_tarball, project / "build" / "ee" / "sevenp-dbops.tar.gz")
    context = tmp_path / "context"
    run(str(BIN / "ansible-builder"), "create", "-f", str(project / "execution-environment.yml"), "-c", str(context),
        "--output-filename", "Containerfile", cwd=project)
    containerfile = (context / "Containerfile").read_text()

    assert re.search(r'^ARG EE_BASE_IMAGE="quay\.io/ansible/awx-ee:[0-9][0-9.]+"$', containerfile, re.M), "pinned base"
    copied = [m.group(1) for m in re.finditer(r"^(?:COPY|ADD) (?!--from)(\S+) \S+$", containerfile, re.M)]
    assert "_build/dbops-collection" in copied
    missing = [source for source in copied if not (context / source).exists()]
    assert missing == [], f"the Containerfile copies files the context does not have: {missing}"
    assert (context / "_build" / "dbops-collection" / "sevenp-dbops.tar.gz").is_file()
    # The stream with PostgreSQL 15 is enabled in the base stage, before any stage installs system packages.
    assert containerfile.index("dnf module enable -y postgresql:15") < containerfile.index("install-from-bindep")
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "/build/dbops-collection/sevenp-dbops.tar.gz", "type": "file"}]


def test_introspection_finds_the_collections_python_and_system_dependencies(collection_tarball, tmp_path):
    collections = tmp_path / "collections"
    # --force: the collection is also on the collections path the tests run with, and would count as installed.
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(collections),
        str(collection_tarball), cwd=tmp_path)
    import ansible_builder

    introspect = Path(ansible_builder.__file__).parent / "_target_scripts" / "introspect.py"
    out = run(sys.executable, str(introspect), "introspect", str(collections), "--write-pip", str(tmp_path / "pip"),
              "--write-bindep", str(tmp_path / "bindep"), cwd=tmp_path)
    pip = (tmp_path / "pip").read_text()
    # PyYAML is left out on purpose: the builder drops what ansible-core itself brings.
    for package in ("psycopg", "pymongo", "boto3", "pglast", "zstandard", "squawk-cli"):
        found = re.search(rf"^{re.escape(package)}\b.*# from collection sevenp\.dbops", pip, re.M | re.I)
        assert found, (package, out)
    bindep = (tmp_path / "bindep").read_text()
    for package in ("postgresql [platform:rpm]", "postgresql-server [platform:rpm]", "zstd", "lz4"):
        assert package in bindep, (package, bindep)

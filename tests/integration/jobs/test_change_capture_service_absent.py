"""wal_archiving.yml with both databases: --check installs and starts nothing, a rerun changes nothing, and
-e dbops_archiving=absent stops the uploader and the capture, removes their installations (one directory each,
per cluster and database, below dbops_archiving_install_dir) and leaves the repository alone."""

from __future__ import annotations

import pymongo
import pytest

from tests.integration.jobs.capture_playbook_env import (
    both_databases,
    cluster_of_its_own,
    play,
    setting,
    work_directory,
)
from tests.support.capture_service import capture_dirs

workdir = pytest.fixture(name="workdir")(work_directory)
fresh_cluster = pytest.fixture(name="fresh_cluster")(cluster_of_its_own)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_check_rerun_and_absent(workdir, fresh_cluster, mongo_server, mongo_db_name):
    variables = both_databases(fresh_cluster, workdir, mongo_server, mongo_db_name)
    dsn, install, repository = (variables["dbops_postgres_dsn"], workdir / "install", workdir / "repository")

    play("wal_archiving.yml", variables, workdir, "--check")
    assert not install.exists() or not any(install.iterdir()), "check mode installs nothing"
    assert setting(dsn, "archive_mode") == "off"

    play("wal_archiving.yml", variables, workdir)
    archivers = list(install.glob("postgres-*"))
    assert len(archivers) == 1 and len(capture_dirs(install)) == 1, list(install.iterdir())
    assert list(archivers[0].glob("spool/*/uploader.pid"))
    pymongo.MongoClient(mongo_server)[mongo_db_name].things.insert_one({"_id": 1})
    again = play("wal_archiving.yml", variables, workdir)
    assert again.recap()["changed"] == 0, again.explain()

    removed = play("wal_archiving.yml", {**variables, "dbops_archiving": "absent"}, workdir)
    assert "removed: " in removed.stdout
    assert not archivers[0].exists() and capture_dirs(install) == []
    assert setting(dsn, "archive_mode") == "off"
    assert any(repository.rglob("mongodb/*")), "the change archive stays"
    again = play("wal_archiving.yml", {**variables, "dbops_archiving": "absent"}, workdir)
    assert again.recap()["changed"] == 0, again.explain()

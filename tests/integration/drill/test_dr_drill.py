"""playbooks/dr_drill.yml end to end against fresh real servers: a PostgreSQL 15 cluster, a SecantusDB daemon
and a local-directory repository. The drill must restore both databases to its recovery point with RPO 0 and
write its JSON and HTML report."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.capture_service import capture_dirs, stop_capture_services
from tests.support.mongo_server import destroy_daemon, new_daemon
from tests.support.pg_cluster import PG_BIN_DIR, PG_OS_USER, chown_to_pg_user, new_cluster
from tests.support.wal_archiver import stop_role_uploaders

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def drill_env():
    cluster = new_cluster(prefix="dbops-drill-pg-")
    daemon = new_daemon()
    # The archiver runs as the cluster's OS user: the repository must be reachable by it (pytest's tmp_path,
    # under a 0700 directory of root, is not).
    work = Path(tempfile.mkdtemp(prefix="dbops-drill-"))
    work.chmod(0o755)
    repository = work / "repository"
    repository.mkdir()
    chown_to_pg_user(repository)
    try:
        yield cluster, daemon, work, repository
    finally:
        stop_role_uploaders(work / "archiver")
        stop_capture_services(work / "install")
        destroy_daemon(daemon)
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_dr_drill_restores_both_databases_to_the_point_with_rpo_zero(drill_env):
    cluster, daemon, work, repository = drill_env
    variables = {
        "dbops_postgres_dsn": cluster.dsn(),
        "dbops_pgdata": str(cluster.datadir),
        "dbops_pg_bin_dir": str(PG_BIN_DIR),
        "dbops_pg_os_user": PG_OS_USER,
        "dbops_mongodb_uri": daemon.uri,
        "dbops_mongodb_database": "drill_app",
        "dbops_repository": str(repository),
        # The archiver, its spool and its uploader's supervisor under the test's own directory, stopped after it.
        "dbops_archiver_dir": str(work / "archiver"),
        # The change capture service the wal_archiving role starts, also stopped after the test.
        "dbops_archiving_install_dir": str(work / "install"),
        "dbops_drill_confirm": True,
        "dbops_drill_work_dir": str(work / "drill"),
        "dbops_drill_writes_before_point": 150,
        "dbops_drill_writes_after_point": 60,
        "dbops_report_dir": str(work / "reports"),
    }
    vars_file = work / "vars.json"
    vars_file.write_text(json.dumps(variables))
    done = subprocess.run(
        [str(Path(os.environ["ANSIBLE_PYTHON_INTERPRETER"]).parent / "ansible-playbook"), "-i", "localhost,",
         "-c", "local", "playbooks/dr_drill.yml", "-e", f"@{vars_file}", "-e", "dbops_target=localhost"],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "RTO: " in output and "RPO: 0 acknowledged writes lost" in output
    assert len(capture_dirs(work / "install")) == 1, "the drill relies on the change capture service"
    assert "drill_change_capture" not in output

    reports = sorted((work / "reports").glob("dr_drill-*.json"))
    assert len(reports) == 1, output[-3000:]
    report = json.loads(reports[0].read_text())
    assert report["status"] == "succeeded"
    assert report["verified"] is True and report["rpo_writes_lost"] == 0
    assert 0 < report["rto_seconds"] < 120
    for db in ("postgres", "mongodb"):
        verdict = report["databases"][db]
        assert verdict["before_point"] >= 150 and verdict["lost"] == 0, verdict
        assert verdict["after_point"] >= 60 and verdict["overshoot"] == 0, verdict
        assert verdict["classified_by"] in ("wal position", "oplog timestamp"), verdict
    page = reports[0].with_suffix(".html").read_text()
    assert "PASSED" in page and "<svg" in page

    # The restored server is the promoted primary and the drill's table is back.
    assert cluster.psql("SELECT pg_is_in_recovery()") == "f"
    assert int(cluster.psql("SELECT count(*) FROM dbops_drill_writes")) >= 150

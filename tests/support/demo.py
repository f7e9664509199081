"""The servers of `make demo`, under the repository's .demo/ directory.

    demo.py up       start PostgreSQL 15 and SecantusDB on 127.0.0.1; reuse them if the demo started them before
    demo.py report   print the newest migrate/rollback report under reports/
    demo.py down     stop both servers (add --purge to delete .demo/ as well)

Ports: DBOPS_DEMO_PG_PORT and DBOPS_DEMO_MONGO_PORT when set (a port taken by another program is then an error);
otherwise the ports of the demo's earlier run, else the defaults of inventories/local/group_vars/all/demo.yml
(55432, 57017), else any free port. A server the demo did not start is never used. The ports chosen are written
to .demo/endpoints.json, which the inventory reads, so the playbooks and this script always agree; the password
and database names come from demo.yml.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.mongo_server import MongoDaemon  # noqa: E402
from tests.support.pg_cluster import PgCluster, as_pg_user, chown_to_pg_user  # noqa: E402
from tests.support.ports import wait_for_port  # noqa: E402

DEMO_DIR = ROOT / ".demo"
PG_DIR = DEMO_DIR / "pg"
MONGO_DIR = DEMO_DIR / "mongo"
MONGO_PIDFILE = DEMO_DIR / "mongo.pid"
ENDPOINTS_FILE = DEMO_DIR / "endpoints.json"
PORT_ENV = {"pg_port": "DBOPS_DEMO_PG_PORT", "mongo_port": "DBOPS_DEMO_MONGO_PORT"}
REPORT_DIR = ROOT / "reports"
SETTINGS_FILE = ROOT / "inventories" / "local" / "group_vars" / "all" / "demo.yml"


def settings() -> dict:
    """demo.yml's literal values, with the ports of this machine's demo (endpoints.json) or the defaults."""
    conf = yaml.safe_load(SETTINGS_FILE.read_text())
    chosen = endpoints()
    conf["dbops_demo_pg_port"] = chosen.get("pg_port", conf["dbops_demo_pg_port_default"])
    conf["dbops_demo_mongo_port"] = chosen.get("mongo_port", conf["dbops_demo_mongo_port_default"])
    return conf


def endpoints() -> dict:
    try:
        return json.loads(ENDPOINTS_FILE.read_text())
    except (OSError, ValueError):
        return {}


def save_endpoints(**ports: int) -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    temporary = ENDPOINTS_FILE.with_suffix(".tmp")
    temporary.write_text(json.dumps({**endpoints(), **ports}, indent=2) + "\n")
    temporary.replace(ENDPOINTS_FILE)


def choose_port(name: str, remembered: int | None, default: int, ours_running: bool) -> int:
    """The port for one demo server: the environment's, else the one the demo's own server runs on, else the
    default, else a free one; never a port another program listens on."""
    from tests.support.ports import free_port

    wanted = os.environ.get(PORT_ENV[name])
    if wanted:
        port = int(wanted)
        if port_open(port) and not (ours_running and port == remembered):
            raise SystemExit(f"{PORT_ENV[name]}={port}: 127.0.0.1:{port} is taken by another program")
        return port
    if remembered is not None and (ours_running or not port_open(remembered)):
        return remembered
    if not port_open(default):
        return default
    port = free_port()
    print(f"127.0.0.1:{default} is taken by another program: the demo uses {port} instead")
    return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pg_cluster(conf: dict) -> PgCluster:
    return PgCluster(base_dir=PG_DIR, port=int(conf["dbops_demo_pg_port"]), host=conf["dbops_demo_pg_host"])


def psql_local(cluster: PgCluster, sql: str, **variables: str) -> str:
    """psql over the cluster's Unix socket as its OS user (local connections are trusted), values as variables."""
    argv = [cluster.bin("psql"), "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres",
            "-d", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    out = subprocess.run(as_pg_user(argv), input=sql, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def postgres_up(conf: dict) -> None:
    running = PgCluster(base_dir=PG_DIR, port=int(conf["dbops_demo_pg_port"]), host=conf["dbops_demo_pg_host"])
    remembered = endpoints().get("pg_port")
    conf["dbops_demo_pg_port"] = choose_port("pg_port", remembered, int(conf["dbops_demo_pg_port_default"]),
                                             remembered is not None and running.is_running())
    save_endpoints(pg_port=conf["dbops_demo_pg_port"])
    cluster = pg_cluster(conf)
    if cluster.is_running():
        print(f"PostgreSQL: already running on {cluster.host}:{cluster.port} (data in {cluster.datadir})")
    else:
        if port_open(cluster.port, cluster.host):
            raise SystemExit(f"PostgreSQL: {cluster.host}:{cluster.port} is taken by another program; stop it first")
        DEMO_DIR.mkdir(exist_ok=True)
        if not (cluster.datadir / "PG_VERSION").exists():
            if PG_DIR.exists():  # a half-made cluster from an interrupted run
                shutil.rmtree(PG_DIR)
            cluster.init()
            print(f"PostgreSQL: new cluster in {cluster.datadir}")
        chown_to_pg_user(cluster.base_dir)
        cluster.start()
        print(f"PostgreSQL: started on {cluster.host}:{cluster.port}")
    # The password of the inventory (demo only), whatever the cluster was created with.
    psql_local(cluster, "ALTER ROLE postgres PASSWORD :'pw';\n", pw=conf["dbops_demo_pg_password"])
    database = conf["dbops_demo_pg_database"]
    exists = psql_local(cluster, "SELECT 1 FROM pg_database WHERE datname = :'db';\n", db=database)
    if not exists:
        psql_local(cluster, 'CREATE DATABASE :"db";\n', db=database)
        print(f"PostgreSQL: created database {database}")


def mongo_pid() -> int | None:
    try:
        pid = int(MONGO_PIDFILE.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def mongo_up(conf: dict) -> None:
    remembered = endpoints().get("mongo_port")
    port = choose_port("mongo_port", remembered, int(conf["dbops_demo_mongo_port_default"]),
                       mongo_pid() is not None)
    conf["dbops_demo_mongo_port"] = port
    save_endpoints(mongo_port=port)
    if mongo_pid() is not None and port_open(port):
        print(f"SecantusDB: already running on 127.0.0.1:{port} (data in {MONGO_DIR})")
        return
    MONGO_DIR.mkdir(parents=True, exist_ok=True)
    daemon = MongoDaemon(storage_path=MONGO_DIR, port=port).start()
    MONGO_PIDFILE.write_text(f"{daemon.process.pid}\n")
    print(f"SecantusDB: started on 127.0.0.1:{port} (data in {MONGO_DIR}, log in {DEMO_DIR})")


def mongo_seed(conf: dict) -> None:
    """Sample documents for the MongoDB sets to work on, once: a database the migrations already ran on is left as
    it is, so a rerun of the demo changes nothing."""
    import pymongo

    from tests.support.mongo_sample_data import seed_sample_documents

    port = int(conf["dbops_demo_mongo_port"])
    client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=10000)
    try:
        db = client[conf["dbops_mongodb_database"]]
        if db.list_collection_names():
            return
        seed_sample_documents(db)
        print(f"SecantusDB: seeded sample documents into {db.name}")
    finally:
        client.close()


def up() -> None:
    conf = settings()
    postgres_up(conf)
    mongo_up(conf)
    wait_for_port(int(conf["dbops_demo_mongo_port"]), timeout=30)
    mongo_seed(conf)


def down(purge: bool) -> None:
    conf = settings()
    cluster = pg_cluster(conf)
    if cluster.is_running():
        cluster.stop()
        print("PostgreSQL: stopped")
    pid = mongo_pid()
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        for _attempt in range(100):
            if mongo_pid() is None:
                break
            time.sleep(0.1)
        print("SecantusDB: stopped")
    MONGO_PIDFILE.unlink(missing_ok=True)
    if purge:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        print(f"removed {DEMO_DIR}")


def report() -> None:
    reports = sorted(REPORT_DIR.glob("*.json"), key=lambda path: path.stat().st_mtime)
    if not reports:
        raise SystemExit(f"no report under {REPORT_DIR}: run the playbook first")
    data = json.loads(reports[-1].read_text())
    print()
    print(f"== {data['operation']} on {data['environment']} ({data['host']}): {data['status'].upper()}")
    print(f"   version {data['before'] or '0'} -> {data['after'] or '0'} (target {data['target']})")
    if data.get("error"):
        print(f"   error in {data['failed_phase']}: {data['error']}")
    print(f"   applied this run: {', '.join(data['applied']) or 'nothing (already up to date)'}")
    if data["rolled_back"]:
        print(f"   rolled back this run: {', '.join(data['rolled_back'])}")
    print(f"   pending: {', '.join(data.get('ledger', {}).get('pending') or data['pending']) or 'nothing'}")
    ran = {entry.get("version"): entry for entry in data["sets"]}
    ledger = data.get("ledger", {})
    rows = ledger.get("sets") or data["sets"]
    if rows:
        print()
        print(f"   {'version':<10} {'status':<12} {'parts':<44} {'ms this run':>11}")
        for entry in rows:
            parts = ", ".join(f"{name}: {state}" for name, state in (entry.get("parts") or {}).items())
            duration = ran.get(entry.get("version"), {}).get("duration_ms", "")
            print(f"   {entry.get('version', ''):<10} {entry.get('status', ''):<12} {parts:<44} {duration:>11}")
    findings = data.get("lint", {}).get("findings", [])
    if findings:
        print()
        print(f"   squawk findings ({len(findings)}, none of them in dbops_lint_fail_on):"
              if not any(f.get("blocking") for f in findings) else f"   squawk findings ({len(findings)}):")
        for finding in findings:
            print(f"     {finding['version']} {Path(finding['file']).name}:{int(finding['line']) + 1} "
                  f"{finding['rule_name']}: {finding['message']}")
    print()
    print(f"   statements run: {len(data.get('queries', []))}")
    print(f"   report: {reports[-1].relative_to(ROOT)} (and {reports[-1].with_suffix('.html').relative_to(ROOT)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "report", "down"])
    parser.add_argument("--purge", action="store_true", help="with down: delete .demo/ too")
    args = parser.parse_args()
    if args.command == "up":
        up()
    elif args.command == "report":
        report()
    else:
        down(args.purge)


if __name__ == "__main__":
    main()

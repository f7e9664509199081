"""The servers of `make demo`, under the repository's .demo/ directory.

    demo.py up       start PostgreSQL 15 and SecantusDB on 127.0.0.1 (blue), and for the blue-green cutover a
                     second pair (green), PgBouncer in front of PostgreSQL and HAProxy in front of SecantusDB;
                     reuse them if the demo started them before
    demo.py report   print the newest migrate/rollback report under reports/
    demo.py down     stop every server (add --purge to delete .demo/ as well)

Ports: DBOPS_DEMO_PG_PORT, DBOPS_DEMO_MONGO_PORT, DBOPS_DEMO_GREEN_PG_PORT, DBOPS_DEMO_GREEN_MONGO_PORT,
DBOPS_DEMO_PGBOUNCER_PORT and DBOPS_DEMO_HAPROXY_PORT when set (a port taken by another program is then an error);
otherwise the ports of the demo's earlier run, else the defaults of inventories/local/group_vars/all/demo.yml and
cutover.yml, else any free port. A server the demo did not start is never used. The ports chosen are written
to .demo/endpoints.json, which the inventory reads, so the playbooks and this script always agree; the password
and database names come from demo.yml.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
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

from tests.support.haproxy_server import HaProxy  # noqa: E402
from tests.support.mongo_server import MongoDaemon  # noqa: E402
from tests.support.pg_cluster import PgCluster, as_pg_user, chown_to_pg_user  # noqa: E402
from tests.support.pgbouncer_server import PgBouncer  # noqa: E402
from tests.support.ports import wait_for_port  # noqa: E402

DEMO_DIR = ROOT / ".demo"
PG_DIR = DEMO_DIR / "pg"
MONGO_DIR = DEMO_DIR / "mongo"
MONGO_PIDFILE = DEMO_DIR / "mongo.pid"
# The cutover's green pair and its traffic switch.
GREEN_PG_DIR = DEMO_DIR / "pg-green"
GREEN_MONGO_DIR = DEMO_DIR / "mongo-green"
GREEN_MONGO_PIDFILE = DEMO_DIR / "mongo-green.pid"
PGBOUNCER_DIR = DEMO_DIR / "pgbouncer"
HAPROXY_DIR = DEMO_DIR / "haproxy"
HAPROXY_PIDFILE = DEMO_DIR / "haproxy.pid"
# The cutover's MongoDB copy processes (dbops_cutover_dir of cutover.yml): one supervisor per direction.
CUTOVER_DIR = DEMO_DIR / "cutover"
ENDPOINTS_FILE = DEMO_DIR / "endpoints.json"
PORT_ENV = {"pg_port": "DBOPS_DEMO_PG_PORT", "mongo_port": "DBOPS_DEMO_MONGO_PORT",
            "green_pg_port": "DBOPS_DEMO_GREEN_PG_PORT", "green_mongo_port": "DBOPS_DEMO_GREEN_MONGO_PORT",
            "pgbouncer_port": "DBOPS_DEMO_PGBOUNCER_PORT", "haproxy_port": "DBOPS_DEMO_HAPROXY_PORT"}
REPORT_DIR = ROOT / "reports"
SETTINGS_FILE = ROOT / "inventories" / "local" / "group_vars" / "all" / "demo.yml"
CUTOVER_SETTINGS_FILE = SETTINGS_FILE.with_name("cutover.yml")
# Logical replication from (and, after a switch, back to) each side.
LOGICAL_WAL = {"wal_level": "logical"}


def settings() -> dict:
    """demo.yml's and cutover.yml's literal values, with the ports of this machine's demo (endpoints.json) or the
    defaults."""
    conf = {**yaml.safe_load(SETTINGS_FILE.read_text()), **yaml.safe_load(CUTOVER_SETTINGS_FILE.read_text())}
    chosen = endpoints()
    for name in PORT_ENV:
        conf[f"dbops_demo_{name}"] = chosen.get(name, conf[f"dbops_demo_{name}_default"])
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


def pg_cluster(conf: dict, base_dir: Path = PG_DIR, port_name: str = "pg_port") -> PgCluster:
    return PgCluster(base_dir=base_dir, port=int(conf[f"dbops_demo_{port_name}"]), host=conf["dbops_demo_pg_host"],
                     extra_conf=LOGICAL_WAL)


def psql_local(cluster: PgCluster, sql: str, database: str = "postgres", **variables: str) -> str:
    """psql over the cluster's Unix socket as its OS user (local connections are trusted), values as variables."""
    argv = [cluster.bin("psql"), "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres",
            "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    out = subprocess.run(as_pg_user(argv), input=sql, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def postgres_up(conf: dict, base_dir: Path = PG_DIR, port_name: str = "pg_port",
                label: str = "PostgreSQL") -> PgCluster:
    remembered = endpoints().get(port_name)
    running = PgCluster(base_dir=base_dir, port=remembered or 0, host=conf["dbops_demo_pg_host"])
    conf[f"dbops_demo_{port_name}"] = choose_port(port_name, remembered, int(conf[f"dbops_demo_{port_name}_default"]),
                                                  remembered is not None and running.is_running())
    save_endpoints(**{port_name: conf[f"dbops_demo_{port_name}"]})
    cluster = pg_cluster(conf, base_dir, port_name)
    if cluster.is_running():
        print(f"{label}: already running on {cluster.host}:{cluster.port} (data in {cluster.datadir})")
    else:
        if port_open(cluster.port, cluster.host):
            raise SystemExit(f"{label}: {cluster.host}:{cluster.port} is taken by another program; stop it first")
        DEMO_DIR.mkdir(exist_ok=True)
        if not (cluster.datadir / "PG_VERSION").exists():
            if base_dir.exists():  # a half-made cluster from an interrupted run
                shutil.rmtree(base_dir)
            cluster.init()
            print(f"{label}: new cluster in {cluster.datadir}")
        chown_to_pg_user(cluster.base_dir)
        cluster.start()
        print(f"{label}: started on {cluster.host}:{cluster.port}")
    # A cluster made by an earlier demo, before the cutover was part of it, has no logical decoding yet.
    if psql_local(cluster, "SHOW wal_level;\n") != "logical":
        psql_local(cluster, "ALTER SYSTEM SET wal_level = logical;\n")
        cluster.restart()
        print(f"{label}: restarted with wal_level = logical")
    # The password of the inventory (demo only), whatever the cluster was created with.
    psql_local(cluster, "ALTER ROLE postgres PASSWORD :'pw';\n", pw=conf["dbops_demo_pg_password"])
    database = conf["dbops_demo_pg_database"]
    exists = psql_local(cluster, "SELECT 1 FROM pg_database WHERE datname = :'db';\n", db=database)
    if not exists:
        psql_local(cluster, 'CREATE DATABASE :"db";\n', db=database)
        print(f"{label}: created database {database}")
    return cluster


# The application's role on blue: it may write to every table of the application's schemas, those there now and
# those the migrations create later (as postgres); green gets it with blue's roles when the cutover prepares.
APP_ROLE_SQL = """SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \\gexec
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE ON SCHEMAS TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE, SELECT ON SEQUENCES TO :"role";
SELECT format('GRANT USAGE ON SCHEMA %1$I TO %2$I; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$I'
              ' TO %2$I; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %1$I TO %2$I', nspname, :'role')
  FROM pg_namespace WHERE nspname NOT IN ('dbops', 'information_schema') AND nspname NOT LIKE 'pg\\_%' \\gexec
"""


def app_role_up(conf: dict, blue: PgCluster) -> None:
    psql_local(blue, APP_ROLE_SQL, conf["dbops_demo_pg_database"], role=conf["dbops_demo_app_role"],
               pw=conf["dbops_demo_pg_password"])


def running_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def mongo_pid() -> int | None:
    return running_pid(MONGO_PIDFILE)


def mongo_up(conf: dict, storage: Path = MONGO_DIR, pidfile: Path = MONGO_PIDFILE, port_name: str = "mongo_port",
             label: str = "SecantusDB") -> None:
    remembered = endpoints().get(port_name)
    port = choose_port(port_name, remembered, int(conf[f"dbops_demo_{port_name}_default"]),
                       running_pid(pidfile) is not None)
    conf[f"dbops_demo_{port_name}"] = port
    save_endpoints(**{port_name: port})
    if running_pid(pidfile) is not None and port_open(port):
        print(f"{label}: already running on 127.0.0.1:{port} (data in {storage})")
        return
    storage.mkdir(parents=True, exist_ok=True)
    daemon = MongoDaemon(storage_path=storage, port=port).start()
    pidfile.write_text(f"{daemon.process.pid}\n")
    print(f"{label}: started on 127.0.0.1:{port} (data in {storage}, log in {DEMO_DIR})")


def pgbouncer_up(conf: dict) -> None:
    """PgBouncer in front of blue's database (transaction pooling), as the application's role. Started once: a
    running PgBouncer keeps its ini file, which a cutover may have retargeted to green."""
    bouncer = PgBouncer(base_dir=PGBOUNCER_DIR, databases={}, port=0)
    remembered = endpoints().get("pgbouncer_port")
    running = running_pid(bouncer.pidfile) is not None
    port = choose_port("pgbouncer_port", remembered, int(conf["dbops_demo_pgbouncer_port_default"]), running)
    save_endpoints(pgbouncer_port=port)
    if running and port_open(port):
        print(f"PgBouncer: already running on 127.0.0.1:{port} (config in {bouncer.ini})")
        return
    database = conf["dbops_demo_pg_database"]
    role, password = conf["dbops_demo_app_role"], conf["dbops_demo_pg_password"]
    entry = (f"host={conf['dbops_demo_pg_host']} port={conf['dbops_demo_pg_port']} dbname={database} "
             f"user={role} password={password}")
    PGBOUNCER_DIR.mkdir(parents=True, exist_ok=True)
    PgBouncer(base_dir=PGBOUNCER_DIR, databases={database: entry}, port=port,
              users=(conf["dbops_demo_pg_user"], role)).start()
    print(f"PgBouncer: started on 127.0.0.1:{port} in front of blue (config in {PGBOUNCER_DIR})")


def haproxy_up(conf: dict) -> None:
    """HAProxy (mode tcp) in front of blue's and green's SecantusDB, routing to blue; its runtime API socket is the
    traffic switch. Started once, like PgBouncer: a running one keeps the route a cutover gave it."""
    remembered = endpoints().get("haproxy_port")
    running = running_pid(HAPROXY_PIDFILE) is not None
    port = choose_port("haproxy_port", remembered, int(conf["dbops_demo_haproxy_port_default"]), running)
    save_endpoints(haproxy_port=port)
    if running and port_open(port):
        print(f"HAProxy: already running on 127.0.0.1:{port} (runtime API {HAPROXY_DIR / 'admin.sock'})")
        return
    HAPROXY_DIR.mkdir(parents=True, exist_ok=True)
    proxy = HaProxy(base_dir=HAPROXY_DIR, blue=("127.0.0.1", int(conf["dbops_demo_mongo_port"])),
                    green=("127.0.0.1", int(conf["dbops_demo_green_mongo_port"])), port=port).start()
    HAPROXY_PIDFILE.write_text(f"{proxy.process.pid}\n")
    print(f"HAProxy: started on 127.0.0.1:{port} in front of blue's and green's SecantusDB")


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
    blue = postgres_up(conf)
    app_role_up(conf, blue)
    mongo_up(conf)
    wait_for_port(int(conf["dbops_demo_mongo_port"]), timeout=30)
    mongo_seed(conf)
    # Green and the traffic switch of the blue-green cutover (playbooks/cutover.yml).
    postgres_up(conf, GREEN_PG_DIR, "green_pg_port", "PostgreSQL (green)")
    mongo_up(conf, GREEN_MONGO_DIR, GREEN_MONGO_PIDFILE, "green_mongo_port", "SecantusDB (green)")
    pgbouncer_up(conf)
    haproxy_up(conf)
    print("cutover to green: ansible-playbook -i inventories/local playbooks/cutover.yml "
          "-e dbops_cutover_approved=true")


def stop_process_group(pidfile: Path, label: str) -> None:
    pid = running_pid(pidfile)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        for _attempt in range(100):
            if running_pid(pidfile) is None:
                break
            time.sleep(0.1)
        print(f"{label}: stopped")
    pidfile.unlink(missing_ok=True)


def stop_cutover_copies() -> None:
    """The MongoDB copy processes a cutover started: each supervisor holds a lock on its pid file while it runs;
    SIGTERM stops it and the copy it supervises."""
    for pidfile in sorted(CUTOVER_DIR.glob("mongodb-copy/*/run/copy.pid")):
        text = ""
        with open(pidfile, encoding="ascii") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted: nobody holds it, not running
            except BlockingIOError:
                text = handle.read().strip()
        if not text.isdigit():
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(text), signal.SIGTERM)
        for _attempt in range(300):  # the lock is free once the supervisor has exited
            with open(pidfile, encoding="ascii") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.1)
        print(f"MongoDB copy {pidfile.parents[1].name}: stopped")


def down(purge: bool) -> None:
    conf = settings()
    stop_cutover_copies()
    stop_process_group(HAPROXY_PIDFILE, "HAProxy")
    bouncer = PgBouncer(base_dir=PGBOUNCER_DIR, databases={}, port=0)
    if bouncer.pid() is not None:
        bouncer.stop()
        print("PgBouncer: stopped")
    for cluster, label in ((pg_cluster(conf), "PostgreSQL"),
                           (pg_cluster(conf, GREEN_PG_DIR, "green_pg_port"), "PostgreSQL (green)")):
        if cluster.is_running():
            cluster.stop()
            print(f"{label}: stopped")
    stop_process_group(MONGO_PIDFILE, "SecantusDB")
    stop_process_group(GREEN_MONGO_PIDFILE, "SecantusDB (green)")
    if purge:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        print(f"removed {DEMO_DIR}")


def report() -> None:
    # The migrate and rollback reports (the cutover and the drill write reports of their own beside them).
    reports = sorted((path for path in REPORT_DIR.glob("*.json")
                      if not path.name.startswith(("cutover_", "dr_drill"))), key=lambda path: path.stat().st_mtime)
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

"""playbooks/cutover.yml run the way users run it, against a test estate (tests/support/cutover_estate.py): an
inventory with the three groups of the cutover (all of them this host, connection local) and the role's
variables pointing at the estate's servers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from .ansible_cli import PlaybookRun, run_playbook
from .cutover_estate import CutoverEstate

GROUPS = ("dbops_blue", "dbops_green", "dbops_traffic")


def write_inventory(workdir: Path) -> Path:
    """dbops_blue, dbops_green and dbops_traffic, each with localhost (ansible_connection local)."""
    host = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    inventory = {"all": {"children": {group: {"hosts": host} for group in GROUPS}}}
    path = workdir / "cutover_inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def cutover_vars(estate: CutoverEstate, workdir: Path, migrations_dir: Path | None = None, **overrides) -> dict:
    """The role's inputs for the estate; migrations_dir None = an empty directory (no sets)."""
    if migrations_dir is None:
        migrations_dir = workdir / "no-migrations"
        migrations_dir.mkdir(parents=True, exist_ok=True)
    variables = {
        "dbops_environment": "test",
        "dbops_report_dir": str(workdir / "reports"),
        "dbops_migrations_dir": str(migrations_dir),
        "dbops_pg_bin_dir": os.environ.get("DBOPS_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"),
        "dbops_cutover_dir": str(workdir / "cutover"),
        "dbops_cutover_copy_python": sys.executable,
        "dbops_cutover_max_pause_ms": 2000,
        "dbops_cutover_sync_timeout": 60,
        "dbops_cutover_prepare_timeout": 120,
        "dbops_cutover_sync_samples": 3,
    }
    if estate.blue is not None:
        variables.update({
            "dbops_blue_postgres_dsn": estate.blue_dsn,
            "dbops_green_postgres_dsn": estate.green_dsn,
            "dbops_pgbouncer_admin_dsn": estate.pgbouncer_admin_dsn,
            "dbops_pgbouncer_config": estate.pgbouncer_config,
            "dbops_pgbouncer_database": estate.pgbouncer_database,
            "dbops_cutover_app_roles": [estate.app_user],
            "dbops_cutover_probe_dsn": estate.app_dsn,
        })
    if estate.blue_mongo is not None:
        variables.update({
            "dbops_blue_mongodb_uri": estate.blue_mongo_uri,
            "dbops_green_mongodb_uri": estate.green_mongo_uri,
            "dbops_mongodb_database": estate.mongodb_database,
            "dbops_haproxy_socket": estate.haproxy_socket,
            "dbops_haproxy_backend": estate.haproxy_backend,
            "dbops_cutover_app_users": estate.app_users,
        })
    variables.update(overrides)
    return variables


def run_cutover(action: str, variables: dict, workdir: Path, *extra: str, timeout: int = 300) -> PlaybookRun:
    """ansible-playbook playbooks/cutover.yml -e dbops_cutover_action=<action> with the cutover inventory."""
    inventory = workdir / "cutover_inventory.yml"
    if not inventory.exists():
        write_inventory(workdir)
    return run_playbook("cutover.yml", {**variables, "dbops_cutover_action": action}, workdir,
                        "-i", str(inventory), *extra, timeout=timeout)

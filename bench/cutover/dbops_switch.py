"""This collection's switch, run the way users run it: `ansible-playbook playbooks/cutover.yml` on localhost.

Preparation (not timed): `dbops_cutover_action=prepare` (logical replication blue -> green with the schema and
the initial copy, the MongoDB copy started, green fenced for the application, the state recorded). The switch
(timed): `dbops_cutover_action=switch`; its one cutover_switch task does the whole fenced pause, and its result in
the run's JSON report gives the PAUSE -> RESUME time it measured (PostgreSQL and MongoDB) and each step's time.
The clients' figures (commit gap, failures, lost writes) are measured outside, as for the peer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = "sevenp.dbops cutover.yml switch"


@dataclass
class DbopsSwitch:
    estate: Any  # tests.support.cutover_estate.CutoverEstate
    work: Path
    mongodb: bool = True
    name: str = NAME
    steps: list[dict] = field(default_factory=list)
    pause_ms: float | None = None
    mongodb_pause_ms: float | None = None
    positions: dict = field(default_factory=dict)
    undone: bool = False
    slow_step: str | None = None
    prepare_s: float | None = None
    playbook_s: float | None = None
    output_tail: str = ""

    def _variables(self, action: str) -> dict:
        estate = self.estate
        variables: dict[str, Any] = {
            "dbops_cutover_action": action,
            "dbops_blue_postgres_dsn": estate.blue_dsn,
            "dbops_green_postgres_dsn": estate.green_dsn,
            "dbops_pgbouncer_admin_dsn": estate.pgbouncer_admin_dsn,
            "dbops_pgbouncer_config": estate.pgbouncer_config,
            "dbops_pgbouncer_database": estate.pgbouncer_database,
            "dbops_cutover_app_roles": [estate.app_user],
            "dbops_migrations_dir": "",
            "dbops_cutover_approved": True,
            "dbops_cutover_dir": str(self.work / "cutover"),
            "dbops_report_dir": str(self.work / "reports"),
            "dbops_report_html": False,
        }
        if self.mongodb:
            variables.update({
                "dbops_blue_mongodb_uri": estate.blue_mongo_uri,
                "dbops_green_mongodb_uri": estate.green_mongo_uri,
                "dbops_mongodb_database": estate.mongodb_database,
                "dbops_haproxy_socket": estate.haproxy_socket,
                "dbops_haproxy_backend": estate.haproxy_backend,
                "dbops_cutover_app_users": estate.app_users,
            })
        else:
            variables.update({"dbops_blue_mongodb_uri": "", "dbops_green_mongodb_uri": ""})
        return variables

    def _playbook(self, action: str, *, fail_ok: bool = False) -> dict:
        """The run's JSON report; a failed run raises, unless fail_ok and it wrote a report (an undone switch
        fails the play but reports what it measured)."""
        import sys

        from tests.support.ansible_cli import run_playbook

        variables = self._variables(action)
        variables["dbops_cutover_copy_python"] = sys.executable  # the copy process needs pymongo
        self.work.mkdir(parents=True, exist_ok=True)
        run = run_playbook("cutover.yml", variables, self.work, timeout=900)
        if run.returncode != 0 and not (fail_ok and run.report):
            raise RuntimeError(f"ansible-playbook playbooks/cutover.yml ({action}) failed:\n{run.explain()}")
        if run.report is None:
            raise RuntimeError(f"ansible-playbook playbooks/cutover.yml ({action}) wrote no report")
        self.output_tail = run.output[-4000:] if run.returncode != 0 else ""
        return run.report

    def prepare(self) -> None:
        started = time.monotonic()
        self._playbook("prepare")
        self.prepare_s = time.monotonic() - started

    def switch(self) -> None:
        started = time.monotonic()
        report = self._playbook("switch", fail_ok=True)
        self.playbook_s = time.monotonic() - started
        moves = report.get("moves") or []
        if not moves:
            raise RuntimeError(f"the switch's report has no move (status {report.get('status')}, error "
                               f"{report.get('error')!r}):\n{self.output_tail}")
        move = moves[-1]
        self.steps = list(move.get("steps") or [])
        self.pause_ms = move.get("pause_ms")
        self.mongodb_pause_ms = move.get("mongodb_pause_ms")
        self.positions = dict(move.get("positions") or {})
        self.undone = bool(move.get("undone"))
        self.slow_step = move.get("slow_step")
        if report.get("status") == "failed" and not self.undone:
            raise RuntimeError(f"the switch failed: {report.get('error')}\n{self.output_tail}")

    def stop_copies(self) -> list[str]:
        """Stop the MongoDB copy processes the playbook left running (the reverse copy keeps going after the
        switch, as it should in production): the estate is about to go, and a copy restarting against a vanished
        server would keep loading the machine."""
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.process_supervisor import (
            Supervised,
        )

        stopped = []
        for pid_file in sorted((self.work / "cutover").glob("**/run/*.pid")):
            if Supervised(pid_file=pid_file).stop(timeout=30) == "stopped":
                stopped.append(str(pid_file.relative_to(self.work)))
        return stopped

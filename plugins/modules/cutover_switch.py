#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cutover_switch
short_description: The fenced blue-green switch of PostgreSQL and MongoDB traffic, with undo and crash recovery
version_added: 0.1.0
description:
  - "O(action=switch) moves the application from the old side to the new one (O(direction=to_green), or
    V(to_blue) for the fallback) in one execution. The databases pause one after the other, MongoDB first. MongoDB:
    the old side fenced for the application (its users O(app_users) lose their write roles), a fence document
    written on it (C(<database>.dbops_cutover_fence)), a wait until the copy has applied it, the reverse start (the
    new side's cluster time) taken, HAProxy's backend routed to the still fenced new side. PostgreSQL: PgBouncer
    C(PAUSE); the old side fenced (its roles O(app_roles) lose their write grants and get
    C(default_transaction_read_only), their writing sessions are ended); a fence token written (a row of
    C(dbops.cutover_fence)) and the old side's position after it; a wait until the new side has applied it; the
    forward subscription disabled and its apply worker ended; every sequence of the new side set past the old
    side's value plus O(sequence_headroom); the reverse slot (new -> old) created, its position the switch
    position; PgBouncer's C([databases]) entry retargeted and C(RELOAD); the new side unfenced; C(RESUME). After
    the pause: the new side's MongoDB unfenced, the reverse subscription created on the slot (no initial copy),
    the state set to the new side, the disabled forward flow dropped."
  - "The fence never uses the system-wide C(default_transaction_read_only): the subscription's apply worker, the
    MongoDB copy and the state writes log in as superusers/administrators and keep writing. At every instant at
    most one side accepts the application's writes."
  - "Each step is recorded in the cutover state on both sides (PostgreSQL C(dbops.cutover_state), MongoDB
    C(dbops.cutover_state)) before it runs, and timed (inside PgBouncer's pause, the PostgreSQL copies only). When
    the time since the first fence passes O(max_pause_ms) after a step (every wait is bounded by what is left of
    it), or a step fails, before the new side is unfenced, the
    switch is undone in reverse (reverse flow dropped, forward subscription enabled, traffic back, old side
    unfenced, C(RESUME)): nothing is lost, RV(undone) and RV(slow_step) say what happened, and the module does
    not fail (the role fails the play)."
  - "A run killed part-way leaves the state saying which step was intended; the next run of this module (either
    direction) first completes the half-done switch when it had reached the unfencing of the new side, or undoes
    it otherwise, and says which in RV(recovered); then it carries out the switch asked for. PgBouncer stays
    paused until that rerun. A run holds a session advisory lock on each PostgreSQL side: a second run meanwhile
    is refused (without PostgreSQL, a state written less than 60 s ago by another run is)."
  - "Refused before anything changes, each with its own message: no O(approved); no state or a phase that does
    not allow a switch (not prepared, already on the new side is not an error: nothing is done); the new side not
    fenced; the forward subscription absent, disabled, without a running apply worker or with a table not yet
    copied; the fence table missing or not published; the MongoDB copy not running or reporting a gap."
  - "O(action=fence_passive) fences the side that is not active for the application (prepare runs it, so green
    never takes the application's writes before the switch) and records what it revoked in the state."
  - "For the crash tests only: the environment variable C(DBOPS_CUTOVER_CRASH_AT=<step>) makes the module end
    like C(kill -9) right after it recorded that step's intent. Never set it in production."
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Reads the state, the flows and the lag and returns the planned steps and statements in
      RV(planned); changes nothing, waits for nothing, needs no approval.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: A switch to the side already active changes nothing (it only drops a forward flow left over).
    support: full
options:
  blue_postgres_dsn:
    description: Blue's PostgreSQL database, as a superuser (never fenced).
    type: str
  green_postgres_dsn:
    description: Green's PostgreSQL database, as a superuser. Its host, port and dbname are where PgBouncer's entry
      points when green is active (and what blue's reverse subscription connects to).
    type: str
  blue_mongodb_uri:
    description: Blue's MongoDB, as an administrator (never fenced).
    type: str
  green_mongodb_uri:
    description: Green's MongoDB, as an administrator.
    type: str
  mongodb_database:
    description: The application's MongoDB database.
    type: str
  pgbouncer_admin_dsn:
    description: PgBouncer's admin console (database C(pgbouncer)).
    type: str
  pgbouncer_config:
    description: The PgBouncer ini file whose C([databases]) entry is retargeted.
    type: path
  pgbouncer_database:
    description: The database name clients connect to through PgBouncer.
    type: str
  haproxy_socket:
    description: HAProxy's runtime API socket (admin level).
    type: path
  haproxy_backend:
    description: The HAProxy backend with the servers C(blue) and C(green).
    type: str
  action:
    description: V(switch), or V(fence_passive) to fence the side that is not active.
    type: str
    choices: [switch, fence_passive]
    default: switch
  direction:
    description: V(to_green) (the switch) or V(to_blue) (the fallback).
    type: str
    choices: [to_green, to_blue]
    default: to_green
  approved:
    description: The switch runs only when true (check mode needs none).
    type: bool
    default: false
  name:
    description: The cutover's name (its state record).
    type: str
    default: default
  max_pause_ms:
    description: Longest pause allowed, from the first fence (MongoDB's, else PgBouncer's PAUSE); a switch that
      passes it before the new side is unfenced is undone.
    type: int
    default: 2000
  max_lag_bytes:
    description: Before pausing, wait until the forward subscription lags at most this many bytes.
    type: int
    default: 1048576
  sync_timeout:
    description: Seconds to wait for that lag before giving up (nothing paused yet).
    type: float
    default: 300
  sequence_headroom:
    description: How far past the old side's value each sequence of the new side is set.
    type: int
    default: 1000
  app_roles:
    description: The PostgreSQL roles of the application (fenced). Empty fences every login role that is not a
      superuser.
    type: list
    elements: str
    default: []
  app_users:
    description: The MongoDB users of the application (fenced), V(user@db) or names in O(mongodb_database).
      Empty fences every user holding a role on the database except the one the module logs in as.
    type: list
    elements: str
    default: []
  probe_dsn:
    description: A client DSN through PgBouncer; while the switch runs, a probe commits through it in a loop and
      reports the largest gap between two commits (RV(largest_client_gap_ms)).
    type: str
notes:
  - Give the PostgreSQL pair with the PgBouncer options, the MongoDB pair with the HAProxy options, or both.
  - The MongoDB copies are started and stopped by M(sevenp.dbops.mongodb_copy) (the role does it after the
    switch, from the C(reverse_start) of RV(positions)).
seealso:
  - module: sevenp.dbops.cutover_state
  - module: sevenp.dbops.logical_replication
  - module: sevenp.dbops.mongodb_copy
"""

EXAMPLES = r"""
- name: Switch to green
  sevenp.dbops.cutover_switch:
    blue_postgres_dsn: "{{ dbops_blue_postgres_dsn }}"
    green_postgres_dsn: "{{ dbops_green_postgres_dsn }}"
    pgbouncer_admin_dsn: "{{ dbops_pgbouncer_admin_dsn }}"
    pgbouncer_config: /etc/pgbouncer/pgbouncer.ini
    pgbouncer_database: shop
    app_roles: [shop_app]
    direction: to_green
    approved: "{{ dbops_cutover_approved | bool }}"
  register: switched

- name: Fence green for the application before the switch
  sevenp.dbops.cutover_switch:
    blue_postgres_dsn: "{{ dbops_blue_postgres_dsn }}"
    green_postgres_dsn: "{{ dbops_green_postgres_dsn }}"
    app_roles: [shop_app]
    action: fence_passive
"""

RETURN = r"""
changed:
  description: Whether anything changed (a switch done or undone, a half-done one recovered, a fence applied).
  returned: always
  type: bool
steps:
  description: The steps run, each with name, started_at, duration_ms and ok.
  returned: always
  type: list
  elements: dict
pause_ms:
  description: PAUSE to RESUME in milliseconds (null when nothing was paused).
  returned: always
  type: float
mongodb_pause_ms:
  description: Milliseconds from the fence of the old MongoDB side to the unfencing of the new one (writes were
    refused meanwhile).
  returned: always
  type: float
largest_client_gap_ms:
  description: The largest gap between two commits of the O(probe_dsn) probe; null without it.
  returned: always
  type: float
client_failures:
  description: Requests of the probe that failed (null without O(probe_dsn)).
  returned: always
  type: int
positions:
  description: fence_lsn (old side after the fence token), switch_lsn (new side before the reverse flow),
    reverse_lsn (the reverse slot's position), fence_cluster_time, applied_cluster_time, reverse_start (where the
    reverse MongoDB copy starts, V(<seconds>:<increment>)), the waits in ms and the token.
  returned: always
  type: dict
sequences:
  description: Each sequence of the old side with old_value, new_value (on the new side) and changed.
  returned: always
  type: list
  elements: dict
preflight:
  description: What was checked before the switch (the subscription's state, the copy's health).
  returned: always
  type: dict
undone:
  description: The switch was undone (too slow or a step failed); the old side is active, nothing was lost.
  returned: always
  type: bool
slow_step:
  description: With RV(undone), the step that passed O(max_pause_ms) or failed.
  returned: always
  type: str
error:
  description: With RV(undone), why.
  returned: always
  type: str
recovered:
  description: V(completed) or V(undone) when this run first finished a switch left half-done by a crash.
  returned: always
  type: str
planned:
  description: Check mode; the steps with what each would run.
  returned: always
  type: list
  elements: dict
state:
  description: The cutover's state after the run.
  returned: always
  type: dict
queries:
  description: Every statement and admin command (passwords masked).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.cutover_sides_args import (
    REQUIRED_ONE_OF,
    REQUIRED_TOGETHER,
    side_values,
    sides_argument_spec,
)

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import SwitchOptions
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import TrafficSettings
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import (
        CutoverSwitchRequest,
        run_cutover_switch,
    )

TRAFFIC_OPTIONS = ("pgbouncer_admin_dsn", "pgbouncer_config", "pgbouncer_database", "haproxy_socket",
                   "haproxy_backend")


def argument_spec() -> dict:
    return dict(
        **sides_argument_spec(),
        pgbouncer_admin_dsn={"type": "str", "no_log": True},
        pgbouncer_config={"type": "path"},
        pgbouncer_database={"type": "str"},
        haproxy_socket={"type": "path"},
        haproxy_backend={"type": "str"},
        action={"type": "str", "choices": ["switch", "fence_passive"], "default": "switch"},
        direction={"type": "str", "choices": ["to_green", "to_blue"], "default": "to_green"},
        approved={"type": "bool", "default": False},
        name={"type": "str", "default": "default"},
        max_pause_ms={"type": "int", "default": 2000},
        max_lag_bytes={"type": "int", "default": 1048576},
        sync_timeout={"type": "float", "default": 300.0},
        sequence_headroom={"type": "int", "default": 1000},
        app_roles={"type": "list", "elements": "str", "default": []},
        app_users={"type": "list", "elements": "str", "default": []},
        probe_dsn={"type": "str", "no_log": True},
    )


def build_request(params: dict, check_mode: bool) -> CutoverSwitchRequest:
    options = SwitchOptions(
        name=params["name"], direction=params["direction"],
        traffic=TrafficSettings(**{name: params[name] for name in TRAFFIC_OPTIONS}),
        max_pause_ms=params["max_pause_ms"], max_lag_bytes=params["max_lag_bytes"],
        app_roles=tuple(params["app_roles"]), app_users=tuple(params["app_users"]),
        sequence_headroom=params["sequence_headroom"], sync_timeout=params["sync_timeout"],
        probe_dsn=params["probe_dsn"])
    return CutoverSwitchRequest(sides=SideEndpoints(**side_values(params)),
                                options=options, action=params["action"], approved=params["approved"],
                                check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(),
                           required_together=REQUIRED_TOGETHER,
                           required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module_runner.run_module(
        module, engine="the cutover switch engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_cutover_switch(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()

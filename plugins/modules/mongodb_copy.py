#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mongodb_copy
short_description: Keep a MongoDB database copied to another deployment, as a supervised process
version_added: 0.1.0
description:
  - "The MongoDB copy of a blue-green cutover: an initial copy of the source database (collections with their
    options, C($jsonSchema) validators and indexes - unique, compound, TTL - then the documents in C(_id) order)
    followed by a tail of the source database's change stream applied to the target in order (insert and replace
    as a replace-upsert by C(_id), update as its update description, delete; create, drop, rename, collMod and
    index events as their commands)."
  - "The copy runs as a long-lived process on the host the task runs on: its engine files are installed under
    O(cutover_dir)C(/mongodb-copy/<direction>) and it is kept running by a pid-file supervisor that restarts it
    after a crash (C(bin/dbops-supervise)); the URIs are in C(conf/copy.json), mode 0600, never on a command
    line; its log is C(log/copy.log)."
  - "Its state is the document C(dbops.replication_state) C({_id: <database>}) on the target: C(applied) (the
    cluster time of the newest source change written to the target, never ahead of the data), C(resume_token),
    C(status), C(gap), C(heartbeat_at). A restarted copy resumes from its token. M(sevenp.dbops.replication_sync)
    reads it."
  - "Before every start the copy compares its resume point with the oldest entry of the source's
    C(local.oplog.rs): when the source has already discarded changes the copy has not applied, it records a
    gap, refuses to go on and says to run prepare again (the server would otherwise silently resume at its oldest
    entry and leave a hole)."
  - "Collections C(system.*) and the C(dbops) database are not copied; C(<database>.dbops_cutover_fence) is (the
    switch knows the copy has passed the fence when it sees it). The target URI must be an administrative user:
    the application's users are fenced on the target."
  - "Limits: a fuzzy initial copy (no snapshot) is made whole by replaying the changes from the cluster time it
    began; a unique index whose key values moved between documents during the initial copy can make that replay
    fail (the log says which). The source's oplog must cover the time a copy is stopped, for every database."
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Reads the state document and the install, and returns what it would install, start or stop;
      changes nothing and waits for nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: A running copy with up-to-date files is left alone; stopped or absent twice changes nothing.
    support: full
options:
  source_uri:
    description: MongoDB URI of the source deployment (a replica set or SecantusDB, for its change stream).
    type: str
    required: true
  target_uri:
    description: MongoDB URI of the target, as an administrative user (the copy writes there while the
      application's users are fenced).
    type: str
    required: true
  database:
    description: The database to copy; the target database has the same name.
    type: str
    required: true
  direction:
    description:
      - Which copy this is; it names the copy's directory under O(cutover_dir). The state document's C(_id) is
        O(database), so a target database has one copy.
    type: str
    required: true
    choices: [blue_to_green, green_to_blue]
  state:
    description:
      - V(started) makes the initial copy when one is due (O(initial_copy)), installs the copy and starts its
        supervised process; a running copy is left alone (restarted only when its installed files changed).
      - V(stopped) stops the process and keeps the state document, so a later V(started) resumes from its token.
      - V(absent) stops it, removes its directory and deletes its state document.
      - V(status) only reports.
    type: str
    choices: [started, stopped, absent, status]
    default: started
  initial_copy:
    description:
      - Copy the collections and documents first when the target has no state for O(database) yet. The target
        database must then have no collections. Without it (and without O(start_at)), the copy follows the
        source from its present cluster time.
    type: bool
    default: true
  start_at:
    description:
      - Follow the source from this cluster time, V(<seconds>:<increment>), with no initial copy (the reverse copy
        after a switch starts at the cluster time the switch took on the new side). A copy already started at the
        same O(start_at) resumes from its token instead.
    type: str
  wait_for_initial_copy:
    description: With an initial copy due, return only once it is done (else once it has begun).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the process to report itself running (and for the initial copy).
    type: float
    default: 600
  cutover_dir:
    description: Directory on the host under which the copy is installed (C(mongodb-copy/<direction>)).
    type: path
    default: /var/lib/sevenp-dbops/cutover
  python:
    description: Python interpreter (with pymongo) that runs the copy process; by default the module's own.
    type: path
seealso:
  - module: sevenp.dbops.replication_sync
  - module: sevenp.dbops.haproxy_switch
"""

EXAMPLES = r"""
- name: Copy blue's database to green and keep it in sync
  sevenp.dbops.mongodb_copy:
    source_uri: "{{ dbops_blue_mongodb_uri }}"
    target_uri: "{{ dbops_green_mongodb_uri }}"
    database: app
    direction: blue_to_green
    cutover_dir: /var/lib/sevenp-dbops/cutover

- name: After the switch, copy green back to blue from the switch's cluster time
  sevenp.dbops.mongodb_copy:
    source_uri: "{{ dbops_green_mongodb_uri }}"
    target_uri: "{{ dbops_blue_mongodb_uri }}"
    database: app
    direction: green_to_blue
    start_at: "1796235965:7"

- name: Is the copy running, and how far behind?
  sevenp.dbops.mongodb_copy:
    source_uri: "{{ dbops_blue_mongodb_uri }}"
    target_uri: "{{ dbops_green_mongodb_uri }}"
    database: app
    direction: blue_to_green
    state: status
  register: copy
"""

RETURN = r"""
queries:
  description: The commands run or planned (state document reads and writes, install, supervisor commands); no URI.
  returned: always
  type: list
  elements: str
changed:
  description: Whether files were installed, the process started or stopped, or the state document deleted.
  returned: always
  type: bool
running:
  description: Whether the copy process runs (its supervisor holds the pid file) and copies or tails, with no gap.
  returned: always
  type: bool
pid:
  description: The supervisor's pid.
  returned: when the supervisor runs
  type: int
status:
  description: The status the copy last recorded (V(initial_copy), V(running), V(stopped), V(gap)).
  returned: when the target has the copy's state document
  type: str
applied:
  description: Cluster time of the newest source change applied to the target, V(<seconds>:<increment>).
  returned: when the copy has applied a position
  type: str
lag_seconds:
  description: Seconds between the source's newest write and RV(applied).
  returned: when the source and the state could be read
  type: float
gap:
  description: Why the copy cannot go on (its resume point left the source's oplog), null when it can.
  returned: when there is a gap
  type: str
initial_copy_done:
  description: Whether the target has been given its initial copy (or needs none).
  returned: always
  type: bool
log_path:
  description: The copy process's log file.
  returned: always
  type: str
install_dir:
  description: The copy's directory on the host.
  returned: always
  type: str
log_tail:
  description: The last lines of the log when the copy is not running or has a gap.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import secrets_in_connection_string

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import (
        MongoCopyRequest,
        run_copy,
    )


def argument_spec() -> dict:
    return dict(
        source_uri={"type": "str", "required": True, "no_log": True},
        target_uri={"type": "str", "required": True, "no_log": True},
        database={"type": "str", "required": True},
        direction={"type": "str", "required": True, "choices": ["blue_to_green", "green_to_blue"]},
        state={"type": "str", "choices": ["started", "stopped", "absent", "status"], "default": "started"},
        initial_copy={"type": "bool", "default": True},
        start_at={"type": "str"},
        wait_for_initial_copy={"type": "bool", "default": True},
        timeout={"type": "float", "default": 600.0},
        cutover_dir={"type": "path", "default": "/var/lib/sevenp-dbops/cutover"},
        python={"type": "path"},
    )


def build_request(params: dict, check_mode: bool) -> MongoCopyRequest:
    return MongoCopyRequest(
        source_uri=params["source_uri"], target_uri=params["target_uri"], database=params["database"],
        direction=params["direction"], state=params["state"], cutover_dir=params["cutover_dir"],
        initial_copy=params["initial_copy"], start_at=params["start_at"],
        wait_for_initial_copy=params["wait_for_initial_copy"], timeout=params["timeout"], python=params["python"],
        check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    # A driver error may quote a URI's password alone; Ansible masks only the no_log values whole.
    for name in ("source_uri", "target_uri"):
        module.no_log_values.update(secrets_in_connection_string(module.params.get(name)))
    module_runner.run_module(
        module, engine="the MongoDB copy engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_copy(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()

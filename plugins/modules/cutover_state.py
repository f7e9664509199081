#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cutover_state
short_description: Read or record the durable state of a blue-green cutover, kept on both sides
version_added: 0.1.0
description:
  - "The state of a cutover (which side the application writes to, the phase, the step of a switch and whether it
    is only intended or done, the fences and the positions) is kept in four copies: the PostgreSQL table
    C(dbops.cutover_state) and the MongoDB collection C(dbops.cutover_state) on blue and on green. Every write
    raises a generation and only replaces an older one; the copy with the highest generation is the state."
  - "O(action=status) reads every copy it can reach and names those it cannot (RV(copies)); it changes nothing.
    A switch left half-done by a crash shows as RV(in_progress) with its RV(step); only
    M(sevenp.dbops.cutover_switch) completes or undoes it (it needs the traffic switches)."
  - "O(action=record) records O(phase) (V(preparing), V(prepared) or V(aborted): the phases of the playbook's
    prepare and abort) on every side; it needs every side given and refuses while a switch is in progress. The
    PostgreSQL table is created when missing."
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: O(action=record) reports whether the phase would change and writes nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Recording the phase the state already has changes nothing; status only reads.
    support: full
options:
  blue_postgres_dsn:
    description: Blue's PostgreSQL, as a superuser (the state table lives in its C(dbops) schema).
    type: str
  green_postgres_dsn:
    description: Green's PostgreSQL, as a superuser.
    type: str
  blue_mongodb_uri:
    description: Blue's MongoDB, as an administrator (the state lives in its C(dbops) database).
    type: str
  green_mongodb_uri:
    description: Green's MongoDB, as an administrator.
    type: str
  mongodb_database:
    description: The application's MongoDB database (required with the MongoDB URIs).
    type: str
  name:
    description: The cutover's name; one state record per name.
    type: str
    default: default
  action:
    description: V(status) to read, V(record) to record O(phase).
    type: str
    choices: [status, record]
    default: status
  phase:
    description: The phase to record with O(action=record).
    type: str
    choices: [preparing, prepared, aborted]
notes:
  - Give the PostgreSQL pair, the MongoDB pair, or both.
seealso:
  - module: sevenp.dbops.cutover_switch
"""

EXAMPLES = r"""
- name: Where does the cutover stand
  sevenp.dbops.cutover_state:
    blue_postgres_dsn: "{{ dbops_blue_postgres_dsn }}"
    green_postgres_dsn: "{{ dbops_green_postgres_dsn }}"
    blue_mongodb_uri: "{{ dbops_blue_mongodb_uri }}"
    green_mongodb_uri: "{{ dbops_green_mongodb_uri }}"
    mongodb_database: education_platform
  register: cutover

- name: Record the cutover as prepared
  sevenp.dbops.cutover_state:
    blue_postgres_dsn: "{{ dbops_blue_postgres_dsn }}"
    green_postgres_dsn: "{{ dbops_green_postgres_dsn }}"
    action: record
    phase: prepared
"""

RETURN = r"""
changed:
  description: Whether O(action=record) changed the phase.
  returned: always
  type: bool
state:
  description: The newest copy of the state (null when no side has one).
  returned: always
  type: dict
active:
  description: The side the application writes to (null when there is no state).
  returned: always
  type: str
phase:
  description: The cutover's phase (preparing, prepared, switching, falling_back, undoing, switched, fallen_back,
    undone, aborted).
  returned: always
  type: str
step:
  description: The last step of a switch recorded, and RV(step_status) whether it is only intended or done.
  returned: always
  type: str
step_status:
  description: V(intent) or V(done).
  returned: always
  type: str
in_progress:
  description: A switch (or its undo) is half-done; cutover_switch completes or undoes it on its next run.
  returned: always
  type: bool
writable_side:
  description: The side the application may write to, null while a switch is half-done.
  returned: always
  type: str
copies:
  description: Each copy read or written, with its generation (null when it holds no record), or the error that
    kept it from being read.
  returned: always
  type: list
  elements: dict
queries:
  description: The statements run (the table creation when it was missing).
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
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_state import (
        CutoverStateRequest,
        run_cutover_state,
    )


def argument_spec() -> dict:
    return dict(
        **sides_argument_spec(),
        name={"type": "str", "default": "default"},
        action={"type": "str", "choices": ["status", "record"], "default": "status"},
        phase={"type": "str", "choices": ["preparing", "prepared", "aborted"]},
    )


def build_request(params: dict, check_mode: bool) -> CutoverStateRequest:
    return CutoverStateRequest(sides=SideEndpoints(**side_values(params)),
                               name=params["name"], action=params["action"], phase=params["phase"],
                               check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("action", "record", ("phase",))],
                           required_together=REQUIRED_TOGETHER,
                           required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module_runner.run_module(
        module, engine="the cutover state engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_cutover_state(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: logical_replication
short_description: Set up, refresh, pause, remove or report the logical replication of a blue-green cutover
version_added: 0.1.0
description:
  - "Keeps a PostgreSQL target (green) in sync with a source (blue), or the reverse after a switch, by logical
    replication. One O(direction) is one flow: the publication and the slot on the source and the subscription on
    the target are all named C(dbops_cutover_<from>_to_<to>)."
  - "O(state=present): the guardrails first, every one read before anything changes, all failed ones reported in
    one message: C(wal_level) not C(logical) (on the source; on the target too, for the reverse flow of a
    fallback); a published table without a primary key or usable replica identity (named); partitioned tables;
    too few free C(max_replication_slots) or C(max_wal_senders) on the source, or
    C(max_logical_replication_workers) or C(max_worker_processes) on the target (the subscription and its table
    sync workers); a transaction on the source older than O(max_transaction_age) (creating the slot would wait for
    it); the target lacking some but not all published tables; rows already in the target's tables (with
    O(copy_data)). Then, each only when missing: the source's roles (O(copy_roles): C(pg_dumpall --roles-only),
    roles the target lacks, with their password hashes, so the application's roles log in on the target with the
    same passwords; roles the target has are left untouched), the schema (O(copy_schema): C(pg_dump
    --schema-only) of the source into a target that has none of its tables, one transaction), the fence table
    C(dbops.cutover_fence) on both sides, the migration ledger (the C(dbops) ledger tables with their rows, copied
    once, so the target's migrate plan matches the source's; afterwards each side keeps its own), the publication
    and the subscription (which creates the slot and starts the initial copy with O(copy_data)). With
    O(wait_for_copy) the module waits until every table of the subscription is ready (state C(r))."
  - "The publication lists its tables explicitly (never C(FOR ALL TABLES)): every ordinary table outside schema
    C(dbops), plus C(dbops.cutover_fence), whose rows carry the switch's fence token. C(dbops.cutover_state) and
    the ledger are never replicated: each side writes its own."
  - "O(state=refreshed): DDL is not replicated. Tables created on the source since the set-up are checked for a
    replica identity, created on the target when it lacks them (C(pg_dump --schema-only -t)), added to the
    publication, and C(ALTER SUBSCRIPTION .. REFRESH PUBLICATION) copies (O(copy_data)) and streams them."
  - "O(state=disabled) / O(state=enabled): C(ALTER SUBSCRIPTION .. DISABLE / ENABLE); disabling waits until the
    apply worker has exited."
  - "O(state=absent): drops the subscription (its slot detached first with C(slot_name = NONE), so this works
    when the source is unreachable), then the slot and the publication on the source. A side that cannot be
    reached is left as it is, with a note in RV(notes); run again when it answers. O(state=status) only reads."
  - "Not replicated by PostgreSQL's logical replication, and so not by this module: DDL (see O(state=refreshed)),
    sequences (the switch sets the target's sequences past the source's), large objects, and C(TRUNCATE) of a
    table referenced by foreign keys from unpublished tables. Partitioned tables are refused."
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Reads both sides (and the source's roles with C(pg_dumpall)), runs the guardrails, and returns in
      RV(queries) the statements and commands it would run; changes nothing and waits for nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Every state creates or drops only what is missing or still there; a second run reports no change.
    support: full
options:
  source_dsn:
    description:
      - libpq connection string of the source database (the publisher), as a superuser or a role with
        C(REPLICATION) that owns the published tables.
      - The password is never shown in the output, in errors or in logs.
    type: str
    required: true
  target_dsn:
    description:
      - libpq connection string of the target database (the subscriber), as a superuser.
      - The password is never shown in the output, in errors or in logs.
    type: str
    required: true
  direction:
    description:
      - Which way the data flows; it names the publication, the slot and the subscription.
      - V(blue_to_green) before a switch, V(green_to_blue) after it (the reverse flow of a fallback).
    type: str
    choices: [blue_to_green, green_to_blue]
    default: blue_to_green
  state:
    description: What to do (see the description).
    type: str
    choices: [present, refreshed, disabled, enabled, absent, status]
    default: present
  copy_data:
    description:
      - O(state=present) and O(state=refreshed) copy the existing rows of the tables (the initial copy); false
        streams only later changes, for a target that already holds the rows.
    type: bool
    default: true
  copy_schema:
    description: O(state=present) copies the source's schema into a target that has none of its tables.
    type: bool
    default: true
  copy_roles:
    description:
      - O(state=present) creates the source's roles that the target lacks (with their password hashes), and the
        copied objects keep their owners and privileges. False copies the schema without owners or privileges.
    type: bool
    default: true
  wait_for_copy:
    description:
      - O(state=present) and O(state=refreshed) wait until every table of the subscription is ready (the initial
        copy done and streaming), at most O(timeout) seconds.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the initial copy. When they run out the module fails; the copy goes on, and a rerun
        waits again.
    type: float
    default: 600
  max_transaction_age:
    description:
      - Guardrail of O(state=present), in seconds; refuses to start while a transaction older than this is open
        on the source (creating the slot waits until every running transaction has ended).
    type: float
    default: 300
  pg_bin_dir:
    description: Directory of PostgreSQL's client programs (C(pg_dump), C(pg_dumpall), C(psql)).
    type: path
    default: /usr/lib/postgresql/15/bin
  subscriber_conninfo:
    description:
      - The connection string the target SERVER uses to reach the source (the subscription's C(CONNECTION)), when
        it differs from O(source_dsn) (another host name or network seen from the target).
      - Defaults to O(source_dsn). The password is never shown.
    type: str
seealso:
  - module: sevenp.dbops.replication_sync
"""

EXAMPLES = r"""
- name: Set up green from blue (guardrails, roles, schema, ledger, publication, subscription, initial copy)
  sevenp.dbops.logical_replication:
    source_dsn: "{{ dbops_blue_postgres_dsn }}"
    target_dsn: "{{ dbops_green_postgres_dsn }}"
    direction: blue_to_green
    state: present
    max_transaction_age: 60
    timeout: 1800

- name: Publish and copy the tables an expand set added
  sevenp.dbops.logical_replication:
    source_dsn: "{{ dbops_blue_postgres_dsn }}"
    target_dsn: "{{ dbops_green_postgres_dsn }}"
    state: refreshed

- name: Tear down green's replication (blue keeps no slot)
  sevenp.dbops.logical_replication:
    source_dsn: "{{ dbops_blue_postgres_dsn }}"
    target_dsn: "{{ dbops_green_postgres_dsn }}"
    state: absent
"""

RETURN = r"""
queries:
  description:
    - The statements and client commands run (in check mode, the ones that would run), each prefixed with the
      side, V(source:) or V(target:). Passwords masked; role statements shown by role name only.
  returned: always
  type: list
  elements: str
changed:
  description: Whether anything was created, copied, altered or dropped (would be, in check mode).
  returned: always
  type: bool
name:
  description: The name of the publication, the slot and the subscription.
  returned: always
  type: str
tables:
  description: The published tables (V(schema.table)), for O(state=present) and O(state=refreshed).
  returned: always
  type: list
  elements: str
guardrails:
  description: The checks run, each with C(check), C(ok) and C(detail); also returned when the module refuses.
  returned: always
  type: list
  elements: dict
subscription:
  description:
    - Where the flow stands after the run, with C(exists) and C(enabled) (the subscription), C(tables) (number of
      tables by sync state, like C(ready)), C(tables_ready), C(tables_total), C(slot_exists), C(slot_active),
      C(confirmed_flush_lsn), C(lag_bytes), C(publication_exists) and C(publication_tables).
  returned: always
  type: dict
roles_created:
  description: Roles created on the target (O(state=present)).
  returned: always
  type: list
  elements: str
schema_copied:
  description: Whether the schema was (would be) copied.
  returned: always
  type: bool
ledger_copied:
  description: Whether the migration ledger was (would be) copied.
  returned: always
  type: bool
tables_added:
  description: O(state=refreshed) the tables added to the publication.
  returned: always
  type: list
  elements: str
copy_progress:
  description: Readings while waiting for the copy, about one a second, each with C(elapsed_ms), C(tables_ready),
    C(tables_total) and C(rows_copying).
  returned: always
  type: list
  elements: dict
notes:
  description: What was left undone because a side was unreachable.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import secrets_in_connection_string

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.logical_replication import (
        LogicalReplicationRequest,
        manage,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.guardrails import (
        GuardrailRefused,
    )


def argument_spec() -> dict:
    return dict(
        source_dsn={"type": "str", "required": True, "no_log": True},
        target_dsn={"type": "str", "required": True, "no_log": True},
        direction={"type": "str", "default": "blue_to_green", "choices": ["blue_to_green", "green_to_blue"]},
        state={"type": "str", "default": "present",
               "choices": ["present", "refreshed", "disabled", "enabled", "absent", "status"]},
        copy_data={"type": "bool", "default": True},
        copy_schema={"type": "bool", "default": True},
        copy_roles={"type": "bool", "default": True},
        wait_for_copy={"type": "bool", "default": True},
        timeout={"type": "float", "default": 600.0},
        max_transaction_age={"type": "float", "default": 300.0},
        pg_bin_dir={"type": "path", "default": "/usr/lib/postgresql/15/bin"},
        subscriber_conninfo={"type": "str", "no_log": True},
    )


def build_request(params: dict, check_mode: bool) -> LogicalReplicationRequest:
    return LogicalReplicationRequest(
        source_dsn=params["source_dsn"], target_dsn=params["target_dsn"], direction=params["direction"],
        state=params["state"], copy_data=params["copy_data"], copy_schema=params["copy_schema"],
        copy_roles=params["copy_roles"], wait_for_copy=params["wait_for_copy"], timeout=params["timeout"],
        max_transaction_age=params["max_transaction_age"], pg_bin_dir=params["pg_bin_dir"],
        subscriber_conninfo=params["subscriber_conninfo"], check_mode=check_mode)


def refusal_details(exc: BaseException) -> dict:
    """The guardrails' findings when they refused (nothing was changed)."""
    if not isinstance(exc, GuardrailRefused):
        return {}
    return {"changed": False, "guardrails": [{"check": check.name, "ok": check.passed, "detail": check.detail}
                                             for check in exc.checks]}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    # A driver error may quote only the password of a DSN: masked too, not just the whole value.
    for option in ("source_dsn", "target_dsn", "subscriber_conninfo"):
        module.no_log_values.update(secrets_in_connection_string(module.params[option]))
    module_runner.run_module(
        module, engine="the logical replication engine", engine_import=ENGINE, build=build_request,
        run=lambda request: manage(request),  # pylint: disable=unnecessary-lambda
        failure_details=refusal_details)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate
short_description: Plan, apply, roll back and report PostgreSQL and MongoDB migration sets
version_added: 0.1.0
description:
  - Reads the migration sets found in O(migrations_dir) (the collection's native format, or golang-migrate, Flyway
    and dbmate directories, detected automatically) and compares them with the ledger kept in each database
    (PostgreSQL schema C(dbops), MongoDB collection C(dbops_migrations)).
  - With O(state=applied) applies every pending set up to O(target), each set in its own transaction where the
    server allows it, one runner at a time, with C(lock_timeout) and retries on DDL, resumable batched backfills and
    the set's verification queries.
  - With O(state=rolled_back) runs the downs of the applied sets newer than O(target), newest first. A set without a
    down stops the rollback before anything is changed.
  - With O(state=status) only reports what is applied, pending and drifted.
  - In check mode nothing is executed, not even the creation of the ledger; the module returns the plan and the
    statements that would run.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Can run in check mode and return the plan without changing the databases.
    support: full
    details:
      - Check mode plans by reading the ledger and the files only; no statement of a migration is executed and
        nothing is rolled back afterwards.
  diff_mode:
    description:
      - Returns the version before and after the run in diff mode, then per planned set the statements it runs
        (in check mode, would run), part by part.
    support: full
  idempotent:
    description: A second run with the same arguments changes nothing and reports RV(changed=false).
    support: full
options:
  migrations_dir:
    description:
      - Directory holding the migration sets, on the host the module runs on.
    type: path
    required: true
  state:
    description:
      - V(applied) applies pending sets up to O(target).
      - V(rolled_back) rolls back applied sets newer than O(target).
      - V(status) reports and changes nothing.
    type: str
    choices: [applied, rolled_back, status]
    default: applied
  target:
    description:
      - With O(state=applied), the last version to apply, or V(latest).
      - With O(state=rolled_back), the version to return to (it stays applied); V(0) rolls back every set.
      - Versions are compared exactly as written in the set names (V(2024.010) is not V(2024.01)); quote them in YAML.
    type: str
    default: latest
  allow_destructive:
    description:
      - Allow sets that drop tables, columns, schemas, collections or truncate data. Refused otherwise, before
        anything is changed.
    type: bool
    default: false
  allow_drift:
    description:
      - Accept applied sets whose files changed since they were applied (the ledger keeps the old checksum).
      - Otherwise drift fails the run, naming the version.
    type: bool
    default: false
  lock_timeout:
    description:
      - C(lock_timeout) for each DDL statement, so that a migration waiting for a lock never stalls the
        application's queries behind it; the statement is retried with backoff O(ddl_retries) times.
      - Milliseconds as an integer, or a number with unit V(ms), V(s) or V(min), for example V(5s).
      - When omitted, the engine's default applies, V(5s).
    type: str
  ddl_retries:
    description:
      - How many times a DDL statement that hit O(lock_timeout) is retried, with exponential backoff.
    type: int
    default: 5
  runner_lock_timeout:
    description:
      - Seconds to wait for another runner to finish before failing (one runner at a time per database).
    type: float
    default: 60
  batch_size:
    description:
      - Overrides the batch size of every batched backfill (rows or documents per batch).
      - When omitted each backfill uses the size declared in its C(migration.yml).
    type: int
  on_partial:
    description:
      - What to do with a set a previous run left half-applied (for example a crash between its PostgreSQL and its
        MongoDB part).
      - V(resume) finishes it; V(compensate) undoes the parts already applied, so it can be applied again.
    type: str
    choices: [resume, compensate]
    default: resume
  adopt:
    description:
      - Take over a database that another migration tool manages, starting from what that tool recorded as applied.
      - The other tool's applied versions are recorded in the ledger as C(baseline) entries (status V(applied),
        C(applied_from) V(baseline from <tool>)) without running anything; from then on only what the other tool had
        not applied is applied. The other tool's tables are never changed, so the team can go back to it.
      - V(auto) reads the history of the tool whose directory format O(migrations_dir) is in, when its table is
        present (C(flyway_schema_history); C(schema_migrations) with a C(dirty) column for golang-migrate, without
        one for dbmate; Sqitch's registry). V(none) reads nothing.
      - A dirty golang-migrate version or a failed Flyway row refuses the run; a file that no longer matches the other
        tool's checksum is drift (refused unless O(allow_drift)).
      - In check mode the baseline that would be recorded is returned in RV(baseline) and nothing is recorded.
    type: str
    choices: [auto, flyway, golang-migrate, dbmate, sqitch, none]
    default: auto
  placeholders:
    description:
      - Values of Flyway's placeholders; C(${name}) in Flyway migrations is replaced by the value of C(name).
      - A placeholder used in a file without a value here is an error naming the file and the placeholder.
      - The values are not hidden (they appear in RV(queries) inside the SQL they complete, and hiding a value such as
        V(public) would mask it everywhere in the output); do not pass secrets as placeholders.
    type: dict
  verify_applied:
    description:
      - With O(state=status), check every applied set again, reading only - its PostgreSQL part's verify SQL (in
        a READ ONLY transaction that is rolled back), its MongoDB part's validation and its C(post) validation
        rules (a C(row_count) rule has no "before" figure then and is reported as not comparable) - and return
        RV(verification).
    type: bool
    default: false
  lint:
    description:
      - Lint the forward SQL of every PostgreSQL part the run applies with squawk (U(https://squawkhq.com)) once
        the plan is made and before anything changes, in check mode too; the findings are in RV(lint_findings).
      - Findings of the rules in O(lint.fail_on) fail the run before anything is changed. When omitted, nothing is
        linted.
    type: dict
    suboptions:
      executable:
        description: The squawk executable, on the host the module runs on.
        type: str
        default: squawk
      fail_on:
        description: The squawk rules whose findings fail the run.
        type: list
        elements: str
        default: []
      exclude:
        description: The squawk rules not checked.
        type: list
        elements: str
        default: []
      pg_version:
        description: The PostgreSQL version the rules assume (squawk C(--pg-version)); empty for squawk's default.
        type: str
        default: ""
  refuse_changes:
    description:
      - When not empty, the run must not change anything (an approval is missing) - it fails with this text and
        the versions it would apply or roll back, after planning and before anything changes. A run with nothing
        to do succeeds.
    type: str
    default: ""
  rollback_on_failure:
    description:
      - With O(state=applied), when a set fails, also roll back the sets this run applied before it (the failed set
        is always undone), returning to the version the run started from; the outcome is in RV(compensation).
    type: bool
    default: false
  report:
    description:
      - Handled on the controller by the collection's action plugin of the same name, never sent to the host -
        write a JSON summary and an HTML page of the run under its key C(dir) on the controller, as the role
        C(sevenp.dbops.migrate) does. Keys C(dir), C(html) (bool), C(template) (the HTML template, looked up
        like a template task's), C(operation), C(environment), C(target), C(started), C(stamp), C(lint_fail_on),
        C(approval), C(rollback_on_failure), C(settings), and C(failure) with C(result) (a phase outside the module
        failed - the module is not run, the report records that failure and the given earlier result).
    type: dict
  progress_interval:
    description:
      - Handled on the controller by the collection's action plugin, never sent to the host - seconds between two
        looks at the run's progress. With a value above 0 (and not in check mode, and without the task's own
        C(async)), the module runs as an asynchronous job and every O(progress_interval) seconds the action plugin
        reads the backfills' checkpoints (M(sevenp.dbops.progress_info)) and prints each running backfill's
        percent, rows per second and ETA. V(0) runs the module as one plain execution.
    type: float
    default: 0
notes:
  - Sets run on the host the module runs on; O(migrations_dir) must exist there.
  - Connection options can be set once for the play with C(module_defaults) and the C(group/sevenp.dbops.dbops)
    action group.
seealso:
  - name: Migration set format
    description: The layout of a migration set directory and its C(migration.yml).
    link: https://example.invalid/sevenp/dbops/docs/migration-format.md
"""

EXAMPLES = r"""
- name: Show what is applied and pending
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    migrations_dir: /srv/app/migrations
    state: status
  register: migration_status

- name: Apply every pending set to both databases
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    migrations_dir: /srv/app/migrations
    lock_timeout: 3s
    batch_size: 1000

- name: Plan only (check mode); the statements that would run are in the result's queries
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    migrations_dir: /srv/app/migrations
    target: "2024.012"
  check_mode: true
  register: migration_plan

- name: Return to version 2024.010 (sets after it are rolled back, newest first)
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    migrations_dir: /srv/app/migrations
    state: rolled_back
    target: "2024.010"
"""

RETURN = r"""
changed:
  description: Whether any set was applied or rolled back (or would be, in check mode).
  returned: always
  type: bool
applied:
  description: Versions applied by this run (in check mode, that would be applied), in order.
  returned: always
  type: list
  elements: str
  sample: ["2024.010", "2024.011"]
rolled_back:
  description: Versions rolled back by this run (in check mode, that would be), in order.
  returned: always
  type: list
  elements: str
  sample: []
pending:
  description: Versions not applied after this run (in check mode, before it).
  returned: always
  type: list
  elements: str
  sample: ["2024.013"]
current:
  description: The newest applied version after the run, or V(0) when none is applied.
  returned: always
  type: str
  sample: "2024.011"
plan:
  description: The steps of the run, in order (one entry per set and part, with the action taken or planned).
  returned: always
  type: list
  elements: dict
sets:
  description: Every known set with the status of each of its parts and how long this run spent on it.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: The set's version, exactly as written in its name.
      type: str
    parts:
      description: Status of each part, keyed by V(postgres) and V(mongodb).
      type: dict
    status:
      description: Status of the set as a whole (V(applied) only when every part is).
      type: str
    duration_ms:
      description: Milliseconds this run spent on the set.
      type: int
    validation:
      description:
        - The set's validation rules (C(validate) in C(migration.yml)) checked in this run, each with C(index),
          C(kind), C(phase), C(target), C(status), C(ok), C(checked), C(offending), up to five C(examples) of
          offending keys, C(before)/C(after) for C(row_count), and C(message).
      type: list
      elements: dict
verification:
  description: With O(verify_applied), per applied set, C(version), C(ok), C(failures) (one text each) and C(rules)
    (the post validation rules' results).
  returned: when O(verify_applied) is set with O(state=status)
  type: list
  elements: dict
queries:
  description: The statements run (in check mode, that would run), with secrets masked.
  returned: always
  type: list
  elements: str
before:
  description: The current version before the run.
  returned: always
  type: str
  sample: "2024.010"
after:
  description: The current version after the run (in check mode, after the planned run).
  returned: always
  type: str
  sample: "2024.013"
postgres_sources:
  description:
    - The forward SQL of the PostgreSQL part of every set this run applies (in check mode, would apply), for
      linters such as squawk; the role C(sevenp.dbops.migrate) lints them before applying.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: The set's version.
      type: str
    path:
      description: The file the SQL comes from.
      type: str
    sql:
      description:
        - The forward SQL when the file holds more than that (the C(migrate:up) section of a dbmate file),
          else V(null) (the file is the forward SQL).
      type: str
    transactional:
      description: Whether the engine runs the whole part in one transaction.
      type: bool
baseline:
  description:
    - What was taken over from another migration tool's history (in check mode, would be); empty when nothing was read.
  returned: always
  type: dict
  sample: {"tool": "dbmate", "versions": ["20240101120000"], "recorded": true, "not_on_disk": [], "drift": [],
           "reapplied": []}
  contains:
    tool:
      description: The tool whose history was read.
      type: str
    versions:
      description: The versions recorded as C(baseline from <tool>), without running them.
      type: list
      elements: str
    recorded:
      description: Whether they were recorded (V(false) in check mode and with O(state=status)).
      type: bool
    not_on_disk:
      description: Versions the other tool applied that have no migration in O(migrations_dir) (not recorded).
      type: list
      elements: str
    drift:
      description: Files that changed since the other tool applied them (taken over with O(allow_drift)).
      type: list
      elements: str
    reapplied:
      description: Flyway repeatable migrations that changed since Flyway applied them, so they are applied again.
      type: list
      elements: str
phase:
  description:
    - The phase the run reached - V(precheck) (reading the files and ledgers, planning), V(lint), V(approval),
      then V(apply), V(rollback) or V(status); when the run failed, the phase that failed.
  returned: always
  type: str
  sample: apply
lint_findings:
  description: With O(lint), squawk's findings, each with the set's C(version) and C(blocking) (its rule is in
    O(lint.fail_on)).
  returned: always
  type: list
  elements: dict
compensation:
  description: After a failure with O(rollback_on_failure), C(performed), C(rolled_back) and C(error) of the
    rollback to the version the run started from.
  returned: always
  type: dict
after_failure:
  description: After a failure while applying or rolling back, C(current) and C(pending) as the ledgers were read
    again; empty when they could not be read.
  returned: on failure
  type: dict
planned_before:
  description: The version before the run, once it was planned (also on failure); empty when the run failed
    before planning.
  returned: always
  type: str
report_path:
  description: With O(report), the JSON summary written on the controller (the HTML page is next to it).
  returned: with O(report)
  type: str
report:
  description: With O(report), the summary written to RV(report_path) (its C(status), C(failed_phase), C(error),
    C(before), C(after)...), without its long lists C(plan), C(sets), C(queries) and C(validation).
  returned: with O(report)
  type: dict
diff:
  description:
    - In diff mode, a list - first the version before and after, then one entry per planned set whose C(after)
      holds the statements the set runs (in check mode, would run), part by part, under the header
      C(<version> <name> (<action>, <phase>)).
  returned: when diff mode is on
  type: list
  elements: dict
  sample: [{"before": {"version": "2024.010"}, "after": {"version": "2024.011"}},
           {"before_header": "2024.011 2024.011_course_duration_minutes (apply, expand)", "before": "",
            "after": "-- postgres\nALTER TABLE content.courses ADD COLUMN duration_minutes integer;\n"}]
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.module_runner import plain

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.engine import RunRequest
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.release_run import (
        ReleaseRecord,
        ReleaseRun,
        ReleaseSettings,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.release_run import (
        postgres_sources as planned_sources,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.squawk_lint import LintSettings

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min)?\s*$", re.ASCII)
_UNIT_MS = {"ms": 1, "s": 1000, "min": 60_000}


def duration_ms(text: str) -> int:
    """'5s' -> 5000; a bare number is milliseconds, as in PostgreSQL's own lock_timeout setting.

    Pure parsing: the range is the engine's to check (RunRequest), like every other parameter.
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"lock_timeout: {text!r} is not a duration such as 500, 500ms, 5s or 1min")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2) or "ms"])


# Module option -> RunRequest field. An option the user did not give is left out, so that RunRequest's default,
# the only one, applies.
_REQUEST_FIELDS = {
    "migrations_dir": "migrations_dir", "state": "state", "target": "target", "postgres_dsn": "postgres_dsn",
    "mongodb_uri": "mongodb_uri", "mongodb_database": "mongodb_database", "allow_destructive": "allow_destructive",
    "allow_drift": "allow_drift", "ddl_retries": "ddl_retries", "runner_lock_timeout": "runner_lock_wait_s",
    "batch_size": "batch_size", "on_partial": "on_partial", "adopt": "adopt", "placeholders": "placeholders",
    "verify_applied": "verify_applied",
}


def argument_spec() -> dict:
    defaults = module_runner.engine_defaults(globals().get("RunRequest"), _REQUEST_FIELDS)

    def option(kind: str, name: str, **extra) -> dict:
        spec = {"type": kind, **extra}
        if defaults.get(name) is not None:
            spec["default"] = defaults[name]
        return spec

    return module_runner.dbops_argument_spec(dict(
        migrations_dir={"type": "path", "required": True},
        state=option("str", "state", choices=["applied", "rolled_back", "status"]),
        target=option("str", "target"),
        allow_destructive=option("bool", "allow_destructive"),
        allow_drift=option("bool", "allow_drift"),
        lock_timeout={"type": "str"},
        ddl_retries=option("int", "ddl_retries"),
        runner_lock_timeout=option("float", "runner_lock_timeout"),
        batch_size={"type": "int"},
        on_partial=option("str", "on_partial", choices=["resume", "compensate"]),
        adopt=option("str", "adopt", choices=["auto", "flyway", "golang-migrate", "dbmate", "sqitch", "none"]),
        placeholders={"type": "dict"},
        verify_applied=option("bool", "verify_applied"),
        lint={"type": "dict", "options": {
            "executable": {"type": "str", "default": "squawk"},
            "fail_on": {"type": "list", "elements": "str", "default": []},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "pg_version": {"type": "str", "default": ""},
        }},
        refuse_changes={"type": "str", "default": ""},
        rollback_on_failure={"type": "bool", "default": False},
        report={"type": "dict"},
        progress_interval={"type": "float", "default": 0},
    ))


def build_request(params: dict, check_mode: bool) -> RunRequest:
    """The engine request from what the user gave; the engine checks it (its InvalidParameter is a ValueError)."""
    given = {field: params[option] for option, field in _REQUEST_FIELDS.items() if params.get(option) is not None}
    if params.get("lock_timeout") is not None:
        given["lock_timeout_ms"] = duration_ms(params["lock_timeout"])
    return RunRequest(**given, check_mode=check_mode).validated()


def result_dict(outcome) -> dict:
    """The run's return values; an engine RunResult gives them through to_dict(), where secrets are redacted."""
    keys = ("changed", "applied", "rolled_back", "pending", "current", "plan", "sets", "queries", "before", "after",
            "baseline")
    values = outcome.to_dict() if callable(getattr(outcome, "to_dict", None)) else {}
    result = {key: plain(values[key] if key in values else getattr(outcome, key, None)) for key in keys}
    result["changed"] = bool(result["changed"])
    for key in ("applied", "rolled_back", "pending", "plan", "sets", "queries"):
        result[key] = result[key] or []
    for key in ("current", "before", "after"):
        result[key] = "0" if result[key] in (None, "") else str(result[key])
    result["baseline"] = result["baseline"] or {}
    verification = values.get("verification") if values else getattr(outcome, "verification", None)
    if verification:
        result["verification"] = plain(verification)
    return result


def postgres_sources(_migrations_dir: str, plan: list[dict]) -> list[dict]:
    """The forward SQL of the PostgreSQL parts the plan applies, as the engine described it in each plan entry.

    The engine computed path, SQL and transaction mode when it planned; nothing is discovered again here.
    """
    return planned_sources(plan)


def release_settings(params: dict) -> ReleaseSettings:
    lint = params.get("lint")
    return ReleaseSettings(
        lint=None if lint is None else LintSettings(
            executable=lint["executable"], fail_on=tuple(lint["fail_on"]), exclude=tuple(lint["exclude"]),
            pg_version=str(lint["pg_version"] or "")),
        refuse_changes=params.get("refuse_changes") or "", rollback_on_failure=bool(params.get("rollback_on_failure")))


def record_values(record) -> dict:
    """How far the release got: its phase, the lint findings, the compensation; after_failure only on failure."""
    values = record.to_dict()
    values["planned_before"] = values.pop("before") or ""
    values.pop("pending")
    if values["after_failure"] is None:
        values.pop("after_failure")
    return values


def run_report(outcome, migrations_dir: str, record=None) -> dict:
    """The run's return values, with the SQL a linter should see, how far the release got and the warnings."""
    result = result_dict(outcome)
    result["postgres_sources"] = postgres_sources(migrations_dir, result["plan"])
    result.update(record_values(record or ReleaseRecord()))
    result["warnings"] = list(getattr(outcome, "warnings", None) or [])
    return result


def failure_report(exc: BaseException, record=None) -> dict:
    """What a failed run did before it failed (sets applied, statements run) and how far it got, for the report."""
    done = getattr(exc, "result", None)
    partial = result_dict(done) if done is not None else {}
    # Where the databases stand after a failure is only known by reading the ledgers again (after_failure);
    # "before" too may not have been read yet when the failure happened (connection, drift): planned_before says.
    for unknown in ("before", "after", "current"):
        partial.pop(unknown, None)
    partial["changed"] = bool(partial.get("applied") or partial.get("rolled_back")
                              or (record is not None and record.compensation.rolled_back))
    if record is not None:
        partial.update(record_values(record))
    return partial


def set_diff(entry: dict) -> dict:
    """One planned set as a diff of its own: the statements it runs (or ran), per part, as added lines."""
    version, action = entry.get("version", ""), entry.get("action", "apply")
    header = f"{version} {entry.get('name') or ''} ({action}, {entry.get('phase') or 'no phase'})".replace("  ", " ")
    lines = []
    for part, statements in (entry.get("statements") or {}).items():
        lines.append(f"-- {part}")
        lines.extend(f"{str(statement).rstrip().rstrip(';')};" for statement in statements or [])
    return {"before_header": header, "after_header": header, "before": "",
            "after": "\n".join(lines) + "\n" if lines else f"-- {version}: no statements\n"}


def version_diff(result: dict) -> list[dict]:
    """The version before and after, then per set of the plan the statements it runs (diff mode, --diff)."""
    version = {"before": {"version": result["before"]}, "after": {"version": result["after"]}}
    return [version, *(set_diff(entry) for entry in result.get("plan") or [])]


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_one_of=[("postgres_dsn", "mongodb_uri")],
        required_by={"mongodb_uri": "mongodb_database"},
        supports_check_mode=True,
    )
    releases = []  # the one ReleaseRun of this invocation, once the request is built

    def release(request):
        releases.append(ReleaseRun(request, release_settings(module.params)))
        return releases[0].run()

    module_runner.run_module(
        module, engine="the migration engine", engine_import=ENGINE, build=build_request, run=release,
        result=lambda outcome: run_report(outcome, module.params["migrations_dir"], releases[0].record),
        failure_details=lambda exc: failure_report(exc, releases[0].record if releases else None), diff=version_diff)


if __name__ == "__main__":
    main()

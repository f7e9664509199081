"""The target's roles and schema, copied from the source with PostgreSQL's client programs.

Roles: `pg_dumpall --roles-only` on the source, and of its lines those of roles the target lacks
(role_statements.py), run in one transaction on the target; password hashes included, so the application's roles
log in on the target with the same passwords after the switch. Schema: `pg_dump --schema-only` (no publications,
no subscriptions, without schema dbops, each side's own ledger) piped into `psql --single-transaction` with
ON_ERROR_STOP, so a failed copy leaves nothing behind. The same pipe copies single tables: the ledger's (with their
rows, once) and tables added later (definitions only, for state=refreshed).

Passwords reach the programs through PGPASSWORD in their own environment, never their command lines; the commands
are reported as run, with the password-free conninfo.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg, sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.role_statements import (
    RoleScript,
    role_script,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.statements import (
    LEDGER_SCHEMA,
    Table,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.steps import (
    SOURCE,
    TARGET,
    LogicalReplicationFailed,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import PgBinaries
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.session import (
    ClientConnection,
    client_connection,
)

# The engine runs PostgreSQL's client programs itself (it has no AnsibleModule and its run_command).
# pylint: disable=ansible-bad-function


@dataclass(frozen=True)
class RolesCopied:
    created: list[str]
    skipped: list[str]


def _environment(client: ClientConnection) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PGPASSWORD"}
    env.update(client.env())
    return env


def _shown(argv: list[str]) -> str:
    return " ".join(argv)


def roles_argv(binaries: PgBinaries, source_dsn: str) -> list[str]:
    return [binaries.path("pg_dumpall"), "--roles-only", "-d", client_connection(source_dsn).conninfo]


def _load_argv(binaries: PgBinaries, target_dsn: str) -> list[str]:
    return [binaries.path("psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1",
            "-d", client_connection(target_dsn).conninfo]


def _dump_argv(binaries: PgBinaries, source_dsn: str, options: list[str], *, with_owners: bool) -> list[str]:
    dump = [binaries.path("pg_dump"), *options, "-d", client_connection(source_dsn).conninfo]
    if not with_owners:  # the roles were not copied: the target's owners are whoever runs the copy
        dump[1:1] = ["--no-owner", "--no-privileges"]
    return dump


def schema_argvs(binaries: PgBinaries, source_dsn: str, target_dsn: str, *, with_owners: bool
                 ) -> tuple[list[str], list[str]]:
    dump = _dump_argv(binaries, source_dsn, ["--schema-only", "--no-publications", "--no-subscriptions",
                                             "--exclude-schema", LEDGER_SCHEMA], with_owners=with_owners)
    return dump, _load_argv(binaries, target_dsn)


def _table_options(tables: Sequence[Table]) -> list[str]:
    # Quoted names: pg_dump reads -t as a pattern, and inside double quotes nothing is a wildcard.
    options: list[str] = []
    for table in tables:
        options += ["-t", sql.Identifier(*table).as_string(None)]
    return options


def tables_argvs(binaries: PgBinaries, source_dsn: str, target_dsn: str, tables: Sequence[Table], *,
                 with_data: bool, with_owners: bool) -> tuple[list[str], list[str]]:
    """Some tables of the source (with their indexes, constraints and owned sequences), into the target."""
    options = ([] if with_data else ["--schema-only"]) + _table_options(tables)
    return _dump_argv(binaries, source_dsn, options, with_owners=with_owners), _load_argv(binaries, target_dsn)


def plan_schema(binaries: PgBinaries, source_dsn: str, target_dsn: str, *, with_owners: bool) -> list[str]:
    dump, load = schema_argvs(binaries, source_dsn, target_dsn, with_owners=with_owners)
    return [f"{SOURCE}: {_shown(dump)} | {TARGET}: {_shown(load)}"]


def read_role_script(binaries: PgBinaries, source_dsn: str, target: Any) -> RoleScript:
    """The source's roles (pg_dumpall --roles-only: it only reads) that the target lacks."""
    argv = roles_argv(binaries, source_dsn)
    done = subprocess.run(argv, env=_environment(client_connection(source_dsn)), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise LogicalReplicationFailed(f"pg_dumpall --roles-only on the source failed: {done.stderr.strip()}")
    existing = {row[0] for row in target.execute("SELECT rolname FROM pg_roles").fetchall()}
    return role_script(done.stdout, existing)


def copy_roles(binaries: PgBinaries, source_dsn: str, target: Any, queries: list[str]) -> RolesCopied:
    """Creates the roles the target lacks, with their attributes, password hashes and memberships; roles the
    target has are left as they are."""
    queries.append(f"{SOURCE}: {_shown(roles_argv(binaries, source_dsn))}")
    script = read_role_script(binaries, source_dsn, target)
    # The statements carry password hashes: queries names the roles, never the lines.
    queries.extend(f"{TARGET}: CREATE ROLE {name} (as dumped by pg_dumpall)" for name in script.created)
    try:
        with target.transaction():
            for statement in script.statements:
                target.execute(statement)
    except psycopg.Error as exc:
        raise LogicalReplicationFailed(f"copying the source's roles to the target failed: {str(exc).strip()}") \
            from None
    return RolesCopied(script.created, script.skipped)


def plan_tables(binaries: PgBinaries, source_dsn: str, target_dsn: str, tables: Sequence[Table], *,
                with_data: bool, with_owners: bool) -> list[str]:
    dump, load = tables_argvs(binaries, source_dsn, target_dsn, tables, with_data=with_data, with_owners=with_owners)
    return [f"{SOURCE}: {_shown(dump)} | {TARGET}: {_shown(load)}"]


def copy_schema(binaries: PgBinaries, source_dsn: str, target_dsn: str, queries: list[str], *,
                with_owners: bool) -> None:
    dump_argv, load_argv = schema_argvs(binaries, source_dsn, target_dsn, with_owners=with_owners)
    _pipe(dump_argv, load_argv, source_dsn, target_dsn, queries, "the source's schema")


def copy_tables(binaries: PgBinaries, source_dsn: str, target_dsn: str, tables: Sequence[Table],
                queries: list[str], *, with_data: bool, with_owners: bool) -> None:
    """The tables' definitions (and rows with with_data) from the source into the target, in one transaction."""
    dump_argv, load_argv = tables_argvs(binaries, source_dsn, target_dsn, tables, with_data=with_data,
                                        with_owners=with_owners)
    what = ", ".join(f"{schema}.{table}" for schema, table in tables)
    _pipe(dump_argv, load_argv, source_dsn, target_dsn, queries, what)


def _pipe(dump_argv: list[str], load_argv: list[str], source_dsn: str, target_dsn: str, queries: list[str],
          what: str) -> None:
    """pg_dump on the source piped into psql on the target; the load is one transaction, so a failure leaves
    nothing behind."""
    queries.append(f"{SOURCE}: {_shown(dump_argv)} | {TARGET}: {_shown(load_argv)}")
    # pylint: disable-next=consider-using-with
    dump = subprocess.Popen(dump_argv, env=_environment(client_connection(source_dsn)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        load = subprocess.run(load_argv, env=_environment(client_connection(target_dsn)), stdin=dump.stdout,
                              capture_output=True, text=True, check=False)
    finally:
        if dump.stdout is not None:
            dump.stdout.close()
        dump_errors = dump.stderr.read().decode(errors="replace") if dump.stderr is not None else ""
        dump.wait()
    if dump.returncode != 0:
        raise LogicalReplicationFailed(f"pg_dump of {what} on the source failed: {dump_errors.strip()}")
    if load.returncode != 0:
        raise LogicalReplicationFailed(f"loading {what} into the target failed (nothing was loaded: one "
                                       f"transaction): {load.stderr.strip()}")

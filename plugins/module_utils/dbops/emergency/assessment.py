"""The emergency_assessment module's engine: the damage, measured (read only), and the strategy chosen from it.

Measured, not guessed: the ledgers (from the migrate module's status, with every applied set's verification),
replication lag and the WAL archiver (pg_stat_replication, pg_stat_archiver), the change capture's checkpoint,
the newest recovery point and backups in the repository catalog, and the tables and collections that the newest
recovery point before the incident recorded and that are gone now. Nothing is written anywhere, so check mode
runs exactly the same reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import parse_iso, to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency import postgres_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.capture_health import capture_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.coverage import (
    Coverage,
    coverage,
    missing_now,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.ledger_findings import (
    LedgerFindings,
    ledger_findings,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.object_inventory import (
    mongodb_collections,
    postgres_tables,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.strategy import (
    Strategy,
    StrategyInput,
    choose_strategy,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection as mongo_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres import connection as pg_connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions


@dataclass(frozen=True)
class AssessmentRequest:
    databases: DatabaseConnections
    severity: str
    repository: RepositoryOptions | None = None
    migrations_status: dict[str, Any] = field(default_factory=dict)
    incident_time: str | None = None  # ISO 8601; default: now
    on_partial: str = "compensate"
    max_narrow_objects: int = 3
    capture_max_lag: float = 60.0
    check_mode: bool = False


@dataclass
class AssessmentResult(JobReport):
    changed: bool
    assessment: dict[str, Any]
    strategy: dict[str, Any]
    clean: bool  # nothing to recover: no broken set, no failing verification, nothing missing


def _postgres(dsn: str, queries: list[str]) -> dict[str, Any]:
    with pg_connection.connected(dsn, "assessing the damage") as conn:
        return {"replication": postgres_health.replication(conn, queries),
                "archiver": postgres_health.archiver(conn, queries),
                "tables": postgres_tables(conn, queries)}


def _mongodb(uri: str, database: str, queries: list[str]) -> dict[str, Any]:
    with mongo_connection.connected(uri, "assessing the damage") as client:
        return {"collections": mongodb_collections(client, database, queries)}


def _missing(request: AssessmentRequest, found: Coverage, measured: dict[str, Any]) -> dict[str, list[str] | None]:
    """Per engine: what the point's inventory lists and is gone ([] for an engine not worked on)."""
    inventory = (found.recovery_point or {}).get("inventory") or {"tables": None, "collections": None}
    tables = missing_now(inventory["tables"], measured.get("postgres", {}).get("tables")) \
        if request.databases.postgres_dsn else []
    collections = missing_now(inventory["collections"], measured.get("mongodb", {}).get("collections")) \
        if request.databases.mongodb_uri else []
    return {"tables": tables, "collections": collections}


def _strategy_input(request: AssessmentRequest, ledger: LedgerFindings, found: Coverage,
                    missing: dict[str, list[str] | None]) -> StrategyInput:
    return StrategyInput(
        severity=request.severity, half_applied=ledger.half_applied,
        failing_verification=ledger.failing_verification,
        version_before_first_failing=ledger.version_before_first_failing,
        missing_tables=missing["tables"], missing_collections=missing["collections"],
        recovery_point=(found.recovery_point or {}).get("name"), on_partial=request.on_partial,
        max_narrow_objects=request.max_narrow_objects)


def is_clean(ledger: LedgerFindings, missing: dict[str, list[str] | None]) -> bool:
    return not (ledger.half_applied or ledger.failing_verification or missing["tables"] or missing["collections"])


def run_assessment(request: AssessmentRequest) -> AssessmentResult:
    databases = request.databases
    if not databases.postgres_dsn and not databases.mongodb_uri:
        raise DbopsError("the emergency assessment needs postgres_dsn and/or mongodb_uri")
    queries: list[str] = []
    warnings: list[str] = []
    # One spelling (fixed-width ISO, Z) so that it compares with the catalog's times as strings do.
    incident = to_iso(parse_iso(request.incident_time)) if request.incident_time else to_iso(utc_now())
    measured: dict[str, Any] = {"assessed_at": to_iso(utc_now()), "incident_time": incident}
    if databases.postgres_dsn:
        measured["postgres"] = _postgres(databases.postgres_dsn, queries)
    if databases.mongodb_uri:
        uri, database = databases.require_mongodb()
        measured["mongodb"] = _mongodb(uri, database, queries)
    found = Coverage()
    if request.repository is not None and request.repository.url:
        repo = request.repository.open()
        found = coverage(Catalog(repo), measured["incident_time"])
        if databases.mongodb_uri:
            measured["mongodb"]["capture"] = capture_health(repo, str(databases.mongodb_database),
                                                            request.capture_max_lag)
    else:
        warnings.append("no repository given: recovery points, backups and missing objects are unknown")
    ledger = ledger_findings(request.migrations_status)
    if not ledger.read:
        warnings.append("no migrations status given: the ledgers were not assessed")
    missing = _missing(request, found, measured)
    for kind, names in missing.items():
        if names is None:
            warnings.append(f"missing {kind} unknown: no recovery point before the incident records an inventory")
    strategy: Strategy = choose_strategy(_strategy_input(request, ledger, found, missing))
    measured.update(ledger=asdict(ledger), coverage=asdict(found), missing=missing)
    return AssessmentResult(changed=False, assessment=measured, strategy=asdict(strategy),
                            clean=is_clean(ledger, missing), queries=queries, warnings=warnings)

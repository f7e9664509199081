"""The metrics module's engine: the families of the results it is given, merged into the textfile."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics import from_results
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.family import MetricsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.textfile import (
    DEFAULT_FILE_NAME,
    update_textfile,
)


@dataclass(frozen=True)
class MetricsRequest:
    directory: str
    file_name: str = DEFAULT_FILE_NAME
    environment: str | None = None
    migrations: dict[str, Any] | None = None
    backups: dict[str, Any] | None = None
    read_only: dict[str, Any] | None = None
    recovery_point: dict[str, Any] | None = None
    replication: dict[str, Any] | None = None
    create_dir: bool = False
    check_mode: bool = False


@dataclass
class MetricsResult(JobReport):
    changed: bool = False
    path: str = ""
    written: bool = False
    families: list[str] = field(default_factory=list)
    diff_lines: list[str] = field(default_factory=list)
    before_text: str = ""  # the whole file before and after, for diff mode
    after_text: str = ""


def _sources(request: MetricsRequest, now: float) -> list[tuple[dict[str, Any], Callable[..., Any]]]:
    env = request.environment
    wanted: list[tuple[dict[str, Any] | None, Callable[[dict[str, Any]], Any]]] = [
        (request.migrations, lambda r: from_results.migration_metrics(r, env, now)),
        (request.backups, lambda r: from_results.backup_metrics(r, env)),
        (request.read_only, lambda r: from_results.read_only_metrics(r, env)),
        (request.recovery_point, lambda r: from_results.recovery_point_metrics(r, env)),
        (request.replication, lambda r: from_results.replication_metrics(r, env)),
    ]
    return [(result, build) for result, build in wanted if result]


def update_metrics(request: MetricsRequest) -> MetricsResult:
    sources = _sources(request, time.time())
    if not sources:
        raise MetricsError("no result to export: give at least one of migrations, backups, read_only, "
                           "recovery_point, replication")
    families, owned = [], []
    for result, build in sources:
        metrics = build(result)
        families += metrics.families
        owned += metrics.owned_names
    update = update_textfile(request.directory, families, file_name=request.file_name,
                             replace_names=tuple(owned), create_dir=request.create_dir,
                             check_mode=request.check_mode)
    return MetricsResult(changed=update.changed, path=update.path, written=update.written,
                         families=update.families, diff_lines=update.diff, before_text=update.before,
                         after_text=update.content)

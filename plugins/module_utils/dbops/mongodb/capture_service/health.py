"""How the change capture is doing: running, how far the archive reaches, lag behind the server, gaps.

Read from three places that each know one part: the service manager (is it running), the repository's change
archive (capture.capture_status: chunks, end, gaps) and, with a URI, the server's cluster time now (the lag is the
distance in seconds between that and the archive's end; on an idle server both stay put and the lag stays small).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import (
    START_HINT,
    capture_status,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.recovery_time import (
    current_cluster_time,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import pymongo_errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository

_DRIVER_ERRORS = (pymongo_errors.PyMongoError,) if pymongo_errors is not None else ()


def last_run(status_file: str | None) -> dict[str, Any] | None:
    """What the service wrote about its current or last run (state, error), if anything."""
    if not status_file:
        return None
    try:
        return dict(json.loads(Path(status_file).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def capture_health(repo: Repository, database: str, *, uri: str | None = None, running: bool | None = None,
                   status_file: str | None = None) -> dict[str, Any]:
    """The archive at a glance plus running (None when unknown), lag_seconds (None without a URI) and a verdict."""
    archive = capture_status(repo, database)
    end = archive.get("end")
    lag = None
    server_time = None
    problems = []
    if uri:
        try:
            now = current_cluster_time(uri, database)["cluster_time"]
        except (DbopsError, *_DRIVER_ERRORS) as exc:
            problems.append(f"the server's cluster time could not be read: {exc}")
        else:
            server_time = now
            lag = max(0, int(now["t"]) - int(end["t"])) if end else None
    if running is False:
        problems.append("the change capture service is not running")
    if archive["gaps"]:
        problems.append(f"the change archive has {len(archive['gaps'])} gap(s)")
    if end is None:
        problems.append("nothing is archived yet")
    run = last_run(status_file)
    if run and run.get("state") in ("history_lost", "failed") and run.get("error"):
        problems.append(f"its last run {run['state']}: {run['error']}")
    return {
        **archive, "running": running, "covered_until": end, "covered_wall": archive.get("end_wall"),
        "server_cluster_time": server_time, "lag_seconds": lag, "last_run": run,
        "healthy": not problems, "problems": problems, "hint": START_HINT if problems else "",
    }


def service_health(repo: Repository, database: str, *, uri: str | None, install_root: str | None,
                   name: str | None = None, manager: str = "auto") -> dict[str, Any]:
    """capture_health() with running read from the service installed on this host under install_root (None when
    there is no URI to name the service by, or no install_root to look in)."""
    # Imported here: the service modules import this one.
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.install import (
        CaptureServiceSpec,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.managers import (
        choose_manager,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.naming import (
        install_dir,
        service_name,
    )

    if not uri or not install_root:
        return capture_health(repo, database, uri=uri)
    name = name or service_name(uri, database)
    spec = CaptureServiceSpec(directory=install_dir(install_root, name), name=name, python="",
                              config={"database": database})
    running = choose_manager(spec, manager).state().running
    health = capture_health(repo, database, uri=uri, running=running, status_file=spec.status_file)
    health["service"] = {"name": name, "install_dir": spec.directory, "installed": Path(spec.directory).is_dir()}
    return health

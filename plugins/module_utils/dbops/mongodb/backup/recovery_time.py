"""The MongoDB half of a recovery point: the cluster time "now", and the change archive flushed past it.

current_cluster_time() reads the server's cluster time: every write acknowledged before the call has a ts at or
before it, every later write a ts after it. Restoring to it therefore keeps exactly the writes acknowledged before
the recovery point was taken. take_recovery_time() adds the wait until the change archive contains everything up to
that time. Both return the record the catalog's RecoveryPointRecord.mongodb holds and restore() accepts as a target.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import flush_until
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connect_tz_aware as connect,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    aware,
    iso,
    position,
    ts_to_dict,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository


def current_cluster_time(uri: str, database: str | None = None, *, client=None) -> dict[str, Any]:
    """{"cluster_time": {"t", "i"}, "position", "time", "database"} for now; reads only, writes nothing."""
    require_driver()
    own = client is None
    client = client or connect(uri)
    try:
        hello = client.admin.command("hello")
    finally:
        if own:
            client.close()
    cluster = (hello.get("$clusterTime") or {}).get("clusterTime")
    if cluster is None:
        raise BackupError("the MongoDB server reports no cluster time (standalone?): a recovery point needs a "
                          "replica set")
    return {"cluster_time": ts_to_dict(cluster), "position": position(cluster),
            "time": iso(aware(hello["localTime"])), "database": database}


def take_recovery_time(uri: str, repository: Repository | str, database: str, *, timeout_s: float = 60.0,
                       client=None) -> dict[str, Any]:
    """current_cluster_time(), then wait (up to timeout_s) until the change archive of database contains everything
    up to it; the capture (capture.ChangeCapture / capture_daemon) must be running.

    Returns {"cluster_time", "position", "time", "database", "archived_until"}; the caller stores it as the
    recovery point's RecoveryPointRecord.mongodb. Raises BackupError when the archive does not get there in time.
    """
    record = current_cluster_time(uri, database, client=client)
    checkpoint = flush_until(repository, database, record["cluster_time"], timeout_s=timeout_s)
    record["archived_until"] = ts_to_dict(checkpoint.covered_until)
    return record


# The same thing under the name of what it is for.
take_recovery_point = take_recovery_time

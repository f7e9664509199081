"""The two sides a set-up statement runs on (as `queries` names them), and the error of a failed statement or
client program. plan.py carries the actions out."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

SOURCE = "source"
TARGET = "target"


class LogicalReplicationFailed(DbopsError):
    """A statement or client program of the logical replication set-up failed."""

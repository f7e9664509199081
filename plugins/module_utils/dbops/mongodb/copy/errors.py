"""What can stop a MongoDB copy, each with its own class so the module and the switch can tell them apart."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError


class CopyError(DbopsError):
    """The copy cannot be set up, started or continued."""


class CopyGapDetected(CopyError):
    """The copy's resume point is older than the source's oplog: changes in between are lost to it."""


class CopyWaitTimeout(CopyError):
    """The copy did not apply the awaited position within the time given."""

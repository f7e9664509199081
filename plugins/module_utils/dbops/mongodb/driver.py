"""Former home of the backup side's MongoDB driver names; everything here is mongodb/connection.py's.

Kept only so that the backup, capture and restore modules that import from here keep working until their imports
name mongodb.connection; nothing may be defined here. Their connect is connection.connect_tz_aware: backups compare
the dates they read with aware times.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (  # noqa: F401
    DOC_CODEC,
    RAW_CODEC,
    Timestamp,
    bson,
    pymongo,
    pymongo_errors,
    redact_uri,
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (  # noqa: F401
    connect_tz_aware as connect,
)

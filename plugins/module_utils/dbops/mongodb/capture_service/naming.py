"""Where a change capture service lives: one directory and one unit name per MongoDB cluster and database.

Two checkouts, two clusters or two databases on one host must never share (and overwrite) an installation, so the
name carries the database and a short digest of the cluster's address. The digest is taken over the URI's hosts
and replica set name only: never its credentials, which must not show in a path or a unit name, and a password
rotation must not move the service.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import parse_qs

DEFAULT_INSTALL_ROOT = "/var/lib/sevenp-dbops"
SERVICE_PREFIX = "dbops-change-capture"


def cluster_identity(uri: str) -> str:
    """scheme, sorted lower-case hosts and replicaSet of a MongoDB URI: what says which cluster it reaches."""
    scheme, _sep, rest = uri.partition("://")
    authority, _slash, tail = rest.partition("/")
    hosts = authority.rpartition("@")[2]
    query = tail.partition("?")[2] if "?" in tail else ""
    replica_set = (parse_qs(query).get("replicaSet") or [""])[0]
    return f"{scheme.lower()}|{','.join(sorted(h.lower() for h in hosts.split(',') if h))}|{replica_set}"


def service_name(uri: str, database: str) -> str:
    """dbops-change-capture-<database>-<8 hex of the cluster>, safe as a systemd unit and a directory name."""
    digest = hashlib.sha256(cluster_identity(uri).encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", database).strip("_.-") or "db"
    return f"{SERVICE_PREFIX}-{safe}-{digest}"


def install_dir(root: str, name: str) -> str:
    return str(Path(root or DEFAULT_INSTALL_ROOT) / name)

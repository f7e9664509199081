# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore target options shared by the restore and object_restore modules (documented in
doc_fragments/restore_target.py).

Ansible-side glue like repository_args.py: it imports nothing from Ansible and nothing third-party.
"""

from __future__ import annotations

RESTORE_TARGET_SPEC = {
    "target_name": {"type": "str"},
    "target_time": {"type": "str"},
    "target_lsn": {"type": "str"},
    "mongodb_target_timestamp": {"type": "str"},
    "restore_command": {"type": "str"},
    "timeout": {"type": "float", "default": 1800},
}
# One PostgreSQL target at a time; some target, and some database, is needed.
MUTUALLY_EXCLUSIVE = [("target_name", "target_time", "target_lsn")]
REQUIRED_ONE_OF = [("target_name", "target_time", "target_lsn", "mongodb_target_timestamp"),
                   ("postgres_dsn", "mongodb_uri")]


def target_fields(params: dict) -> dict:
    """The PgTargetSpec fields the options give (name, time, lsn)."""
    return {"name": params["target_name"], "time": params["target_time"], "lsn": params["target_lsn"]}

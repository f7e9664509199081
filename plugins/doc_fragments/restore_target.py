# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The restore target options of plugins/module_utils/restore_target_args.py, shared by restore and
    # object_restore.
    DOCUMENTATION = r"""
options:
  target_name:
    description:
      - A recovery point taken with M(sevenp.dbops.recovery_point); PostgreSQL and MongoDB both return to it.
    type: str
  target_time:
    description:
      - A moment, ISO 8601 (V(2026-11-25T14:01:00Z)); without a zone it is taken as UTC.
      - PostgreSQL replays every transaction committed at or before it; MongoDB every change at or before it.
    type: str
  target_lsn:
    description:
      - A PostgreSQL WAL position (V(0/3000060)); replay stops after the record at it.
    type: str
  mongodb_target_timestamp:
    description:
      - A MongoDB cluster time V(<seconds>.<increment>) or V(<seconds>:<increment>) to restore MongoDB to;
        overrides the MongoDB position of O(target_name) or O(target_time).
    type: str
  restore_command:
    description:
      - C(restore_command) for the recovery. By default the running server's own, or the one derived from its
        archive command set by the C(sevenp.dbops.wal_archiving) role.
    type: str
  timeout:
    description:
      - Seconds to wait for recovery to reach the target and the recovered server to be promoted.
    type: float
    default: 1800
"""

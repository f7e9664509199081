# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module `backup`; with `progress_interval`, a PostgreSQL backup's progress is printed while it runs: the
server's pg_stat_progress_basebackup for a base backup, pg_stat_progress_copy for a logical dump."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_action import ProgressActionBase


class ActionModule(ProgressActionBase):
    MODULE = "sevenp.dbops.backup"

    def sources(self, module_args: dict) -> list[str]:
        if module_args.get("state", "present") != "present" or not module_args.get("postgres_dsn"):
            return []  # a listing is short; MongoDB dumps keep no progress record to read
        return ["copy"] if module_args.get("kind") == "logical" else ["base_backup"]

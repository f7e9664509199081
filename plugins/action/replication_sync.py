# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module `replication_sync`; with `progress_interval`, while it waits for a logical subscriber (a cutover's
sync) each logical slot's distance behind the source is printed with the rate it shrinks at and an ETA."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_action import ProgressActionBase


class ActionModule(ProgressActionBase):
    MODULE = "sevenp.dbops.replication_sync"

    def sources(self, module_args: dict) -> list[str]:
        # The slots are read on the source, the publisher (postgres_dsn): physical standbys and MongoDB copies
        # report their lag in the module's own result.
        return ["replication"] if module_args.get("kind") == "logical" and module_args.get("postgres_dsn") else []

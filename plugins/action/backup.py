# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module `backup`; with `progress_interval`, a backup's progress is printed while it runs: the server's
pg_stat_progress_basebackup for a PostgreSQL base backup, pg_stat_progress_copy for a PostgreSQL logical dump, and
the progress file a MongoDB dump writes on its host (documents dumped of the collections' estimated count)."""

from __future__ import annotations

import shlex
import uuid

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_action import ProgressActionBase


class ActionModule(ProgressActionBase):
    MODULE = "sevenp.dbops.backup"

    def sources(self, module_args: dict) -> list[str]:
        if module_args.get("state", "present") != "present":
            return []  # a listing is short
        sources = []
        if module_args.get("postgres_dsn"):
            sources.append("copy" if module_args.get("kind") == "logical" else "base_backup")
        if module_args.get("mongodb_uri"):
            sources.append("file")
        return sources

    def prepare(self, module_args: dict, reader: dict) -> None:
        """A MongoDB dump's file lives in the async jobs' directory of the host (created before the job starts)."""
        # The dump's progress is in its file: the reader needs no MongoDB connection (it reads no backfills).
        reader.pop("mongodb_uri", None)
        reader.pop("mongodb_database", None)
        if not module_args.get("mongodb_uri"):
            return
        directory = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        path = self._connection._shell.join_path(directory, f"dbops-progress-{uuid.uuid4().hex}.json")
        module_args["progress_file"] = reader["progress_file"] = path

    def finish(self, reader: dict) -> None:
        if reader.get("progress_file"):
            self._low_level_execute_command(f"rm -f {shlex.quote(reader['progress_file'])}")

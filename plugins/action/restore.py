# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module `restore`; with `progress_interval`, a restore's progress is printed while it runs, read from the
progress file the restore writes on its host: a PostgreSQL restore's bytes fetched and phase (its server is down
meanwhile: no view to read), a MongoDB restore's bytes fetched and documents loaded of the dump's manifest."""

from __future__ import annotations

import shlex
import uuid

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_action import ProgressActionBase


class ActionModule(ProgressActionBase):
    MODULE = "sevenp.dbops.restore"

    def sources(self, module_args: dict) -> list[str]:
        # Both engines write the file named below: PostgreSQL's with pgdata, MongoDB's with mongodb_uri.
        return ["file"] if module_args.get("pgdata") or module_args.get("mongodb_uri") else []

    def prepare(self, module_args: dict, reader: dict) -> None:
        """The file lives in the async jobs' directory of the host (created before the job starts), one per run."""
        directory = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        path = self._connection._shell.join_path(directory, f"dbops-progress-{uuid.uuid4().hex}.json")
        module_args["progress_file"] = reader["progress_file"] = path
        reader.pop("postgres_dsn", None)  # the server restarts during the restore: only the file is read
        reader.pop("mongodb_uri", None)
        reader.pop("mongodb_database", None)

    def finish(self, reader: dict) -> None:
        self._low_level_execute_command(f"rm -f {shlex.quote(reader['progress_file'])}")

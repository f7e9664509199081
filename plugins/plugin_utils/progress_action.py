# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin of a module whose work can be long: with `progress_interval` the module runs as an async job
and its progress is printed while it runs (progress_poll.py); without, it is the module alone."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_poll import (
    ProgressPoller,
    reader_args,
    wants_progress,
)


class ProgressActionBase(ActionBase):
    """Subclasses name their MODULE and the progress SOURCES (module progress_info) their work records."""

    MODULE = ""
    SOURCES: list[str] = []
    _supports_check_mode = True
    _supports_async = True

    def sources(self, module_args: dict) -> list[str]:
        del module_args
        return list(self.SOURCES)

    def prepare(self, module_args: dict, reader: dict) -> None:
        """Adjust the module's and the reader's arguments before the job starts (a progress file to share)."""

    def finish(self, reader: dict) -> None:
        """Clean up after the job (what prepare() created)."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        module_args = dict(self._task.args)
        interval = float(module_args.pop("progress_interval", 0) or 0)
        sources = self.sources(module_args)
        if sources and wants_progress(self, interval):
            reader = reader_args(module_args, [source for source in sources if source != "file"])
            self.prepare(module_args, reader)
            poller = ProgressPoller(self, task_vars, reader, interval)
            try:
                return merge_hash(result, poller.run(self.MODULE, module_args))
            finally:
                self.finish(reader)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        done = self._execute_module(module_name=self.MODULE, module_args=module_args, task_vars=task_vars,
                                    wrap_async=wrap_async)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, done)

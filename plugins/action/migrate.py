# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module `migrate`, and with its `report` option the run's report files written on the controller.

Without `report` this is the module alone. With it, the module runs once (plan, lint, approval and apply in one
execution) and its result, failed or not, becomes a JSON summary and an HTML page under report.dir on the
controller, each written to a temporary file and renamed into place. With report.failure (a phase outside the
module failed, the role's input checks or its backup) the module is not run: the report records that failure.
"""

from __future__ import annotations

import os
import tempfile

import jinja2
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.sevenp.dbops.plugins.plugin_utils.migrate_report import ReportRequest, summary, summary_json
from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_poll import (
    ProgressPoller,
    reader_args,
    wants_progress,
)

MODULE = "sevenp.dbops.migrate"
# The summary's long lists stay in the files (and the module's own result): the task result carries the rest.
_LONG_KEYS = ("plan", "sets", "queries", "validation")


def write_atomically(path: str, text: str) -> None:
    """A reader (or a second run) never sees half a report: write beside it, then rename over it."""
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        module_args = dict(self._task.args)
        report_option = module_args.pop("report", None)
        self._progress_interval = float(module_args.pop("progress_interval", 0) or 0)
        if report_option is None:
            return merge_hash(result, self._module_result(module_args, task_vars))
        try:
            request = ReportRequest.from_option(report_option)
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleActionFail(f"report: {exc}") from exc
        if request.failure:
            outcome = dict(report_option.get("result") or {})
        else:
            outcome = self._module_result(module_args, task_vars)
            result = merge_hash(result, outcome)
        host = str(task_vars.get("inventory_hostname", "localhost"))
        report = summary(request, outcome, host=host, check_mode=bool(task_vars.get("ansible_check_mode", False)))
        stem = request.path_stem(host)
        self._write(request, report, stem)
        result["report"] = {key: value for key, value in report.items() if key not in _LONG_KEYS}
        result["report_path"] = f"{stem}.json"
        if report["status"] == "failed":
            result["failed"] = True
            result["msg"] = f"{report['failed_phase']} failed: {report['error']}"
        return result

    def _module_result(self, module_args: dict, task_vars: dict) -> dict:
        if wants_progress(self, self._progress_interval):
            # The backfills' checkpoints are read on the same host, with the run's own connections.
            reader = reader_args(module_args, ["backfills"])
            return ProgressPoller(self, task_vars, reader, self._progress_interval).run(MODULE, module_args)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        done = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars,
                                    wrap_async=wrap_async)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return done

    def _write(self, request: ReportRequest, report: dict, stem: str) -> None:
        os.makedirs(request.directory, mode=0o755, exist_ok=True)
        write_atomically(f"{stem}.json", summary_json(report))
        if request.html:
            write_atomically(f"{stem}.html", self._html(request.template, report))

    def _html(self, template: str, report: dict) -> str:
        """The role's template, rendered with the options of the template task it replaces (trim_blocks, the
        trailing newline kept). Plain Jinja: the page uses Jinja's own filters only, and Ansible's templating of a
        report of hundreds of sets takes several times as long for the same text."""
        source = self._find_needle("templates", template)
        with open(source, encoding="utf-8") as stream:
            text = stream.read()
        environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=False, keep_trailing_newline=True,
                                         undefined=jinja2.StrictUndefined, autoescape=False)
        return environment.from_string(text).render(dbops_report=report)

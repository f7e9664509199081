# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test callback: every module execution of a playbook run, one line "<host> <module>" in a file.

A callback sees tasks, not module executions (an action plugin may run none, one or several modules), so it wraps
ActionBase._execute_module, the one call every module execution goes through. Task workers are forked from the
process that loaded this callback, so each appends its lines to the file named by DBOPS_MODULE_EXECUTIONS_FILE.
"""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: module_executions
type: aggregate
short_description: records every module execution
description: Appends "<host> <module>" to the file named by DBOPS_MODULE_EXECUTIONS_FILE for each module execution.
"""

_ORIGINAL = ActionBase._execute_module


def _counted(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False,
             delete_remote_tmp=None, wrap_async=False, **kwargs):
    name = module_name or self._task.resolved_action or self._task.action
    host = (task_vars or {}).get("inventory_hostname", "?")
    with open(os.environ["DBOPS_MODULE_EXECUTIONS_FILE"], "a", encoding="utf-8") as stream:
        stream.write(f"{host} {name}\n")
    return _ORIGINAL(self, module_name=module_name, module_args=module_args, tmp=tmp, task_vars=task_vars,
                     persist_files=persist_files, delete_remote_tmp=delete_remote_tmp, wrap_async=wrap_async,
                     **kwargs)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_executions"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ActionBase._execute_module = _counted

# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Long work with progress on the controller's output: the module runs as an asynchronous job on its host, and
while it runs the action plugin polls the job and the work's own progress records (module progress_info), and
prints one line per piece of work (percent, rate, ETA) whenever a reading changes.

Used by the action plugins of migrate (backfills), backup (base backups, dumps) and replication_sync (a cutover's
sync) when their task sets `progress_interval`; without it (or in check mode) the module runs as before.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from typing import Any

from ansible.utils.display import Display

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.rate import progress_line
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord

display = Display()

READER = "sevenp.dbops.progress_info"
# The job's own time limit when the task sets no `async:` (async_wrapper kills a job that runs longer).
DEFAULT_JOB_LIMIT_S = 7 * 24 * 3600
# One read of the job's status waits on the host, up to this long, for the job to end: a shell loop looking at the
# status file every STATUS_LOOK_S, so the end of a short job is seen within that, with one command per wait.
STATUS_WAIT_MAX_S = 5.0
STATUS_LOOK_S = 0.05
STATUS_FALLBACK_SLEEP_S = 0.5
# How async_wrapper's record of a running job begins (newer ansible-cores write true/false, older ones 1/0); the
# job's result replaces it (written beside it, then renamed).
RUNNING_RECORD_STARTS = ('{"started": true, "finished": false', '{"started": 1, "finished": 0')
# What async_status adds to the module's own result.
_JOB_KEYS = ("ansible_job_id", "started", "finished", "results_file", "stdout_lines", "stderr_lines")


class ProgressPoller:
    """Runs one module as an async job and reports progress until it ends; run() returns the module's result."""

    def __init__(self, action: Any, task_vars: dict, reader_args: dict, interval: float, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.action = action
        self.task_vars = task_vars
        self.reader_args = reader_args
        self.interval = max(0.5, float(interval))
        self.clock, self.sleep = clock, sleep
        self.first: dict[str, tuple[float, ProgressRecord]] = {}
        self.printed: dict[str, str] = {}
        self.lines: dict[str, dict[str, Any]] = {}
        self.reader_error = ""

    def run(self, module_name: str, module_args: dict) -> dict:
        action = self.action
        task = action._task
        saved_limit = task.async_val
        # The task's timeout (migrate's dbops_max_duration) also bounds the job: async_wrapper ends it then, where a
        # timeout of the polling alone would leave the job running on its host.
        task.async_val = saved_limit or int(getattr(task, "timeout", 0) or 0) or DEFAULT_JOB_LIMIT_S
        try:
            started = action._execute_module(module_name=module_name, module_args=module_args,
                                             task_vars=self.task_vars, wrap_async=True)
        finally:
            task.async_val = saved_limit
        # The job owns its temporary directory now (async_wrapper removes it): later modules get their own.
        action._connection._shell.tmpdir = None
        job = started.get("ansible_job_id")
        if started.get("failed") or not job:
            return started
        host = str(self.task_vars.get("inventory_hostname", "localhost"))
        async_dir = action._remote_expand_user(action.get_shell_option("async_dir", default="~/.ansible_async"))
        # The job's status is its status file, read with one shell command (what async_status reads, without a
        # module execution each time: a short run would otherwise pay more for its polls than for its work). The
        # command waits on the host until the job ends or the next progress reading is due, so the end of a run is
        # seen within STATUS_LOOK_S instead of after a controller-side sleep.
        # async_wrapper says where it writes (it expands the async directory on the host, with the job's HOME).
        status_file = str(started.get("results_file") or f"{async_dir}/{job}")
        last_read = self.clock()
        while True:
            wait = min(STATUS_WAIT_MAX_S, max(STATUS_LOOK_S, self.interval - (self.clock() - last_read)))
            before = self.clock()
            status = self._job_status(status_file, wait)
            # Failed without finishing: the job's status cannot be read (its file is gone); the result says why.
            if status.get("finished") or status.get("failed"):
                break
            if self.clock() - before < wait / 2:
                # The host did not wait (its sleep takes whole seconds only, or the running record looks
                # different): wait here, as briefly as the old fixed polling did.
                self.sleep(min(wait, STATUS_FALLBACK_SLEEP_S))
            if self.clock() - last_read >= self.interval:
                last_read = self.clock()
                self._report(host)
        if self.first:
            self._report(host)  # the last reading: what the work recorded when it ended
        self.action._low_level_execute_command(f"rm -f {shlex.quote(status_file)}", sudoable=True)
        result = {key: value for key, value in status.items() if key not in _JOB_KEYS}
        result["progress"] = list(self.lines.values())
        if self.reader_error:
            result.setdefault("warnings", []).append(f"progress could not be read: {self.reader_error}")
        return result

    def _job_status(self, status_file: str, wait_seconds: float) -> dict:
        """The job's status as async_status reports it: finished with the module's result once the file holds it,
        running while it holds async_wrapper's "started" record, failed when it cannot be read. Returns when the job
        has ended or after wait_seconds."""
        read = self.action._low_level_execute_command(status_wait_command(status_file, wait_seconds), sudoable=True)
        if read.get("rc") != 0:
            return {"failed": True, "finished": 1,
                    "msg": f"the job's status file {status_file} cannot be read: {str(read.get('stderr', '')).strip()}"}
        try:
            data = json.loads(read.get("stdout") or "")
        except ValueError:  # written atomically, so only a foreign writer leaves it half: look again later
            return {"started": 1, "finished": 0}
        if not isinstance(data, dict):
            return {"failed": True, "finished": 1, "msg": f"the job's status file {status_file} holds no result"}
        if "started" in data and not data.get("finished"):
            return {**data, "finished": 0}
        data["finished"] = 1
        return data

    def _module(self, name: str, args: dict) -> dict:
        action = self.action
        try:
            return action._execute_module(module_name=name, module_args=args, task_vars=self.task_vars)
        finally:
            action._remove_tmp_path(action._connection._shell.tmpdir)
            action._connection._shell.tmpdir = None

    def _report(self, host: str) -> None:
        reading = self._module(READER, self.reader_args)
        if reading.get("failed"):
            # Progress is a courtesy: the work goes on, the task's result says why nothing was shown.
            self.reader_error = str(reading.get("msg") or "progress_info failed")
            return
        moment = self.clock()
        for data in reading.get("records") or []:
            record = ProgressRecord.from_dict(data)
            first = self.first.setdefault(record.key, (moment, record))
            line = progress_line(first if first[0] < moment else None, (moment, record))
            self.lines[record.key] = line.to_dict()
            text = line.text()
            if self.printed.get(record.key) != text:
                self.printed[record.key] = text
                display.display(f"  {host} | progress | {text}")


def status_wait_command(status_file: str, wait_seconds: float) -> str:
    """A POSIX shell command printing the job's status file once the job has ended, or after wait_seconds.

    It looks every STATUS_LOOK_S; a sleep that refuses fractions (a strictly POSIX one) ends the wait at once, and
    the caller then waits on the controller. The file is printed either way: reading it decides, not this loop.
    """
    looks = max(1, int(wait_seconds / STATUS_LOOK_S))
    path = shlex.quote(status_file)
    running = "|".join(f"{shlex.quote(start)}*" for start in RUNNING_RECORD_STARTS)
    return (f"i=0; while [ \"$i\" -lt {looks} ]; do "
            f"case \"$(cat {path} 2>/dev/null)\" in {running}) ;; *) break ;; esac; "
            f"sleep {STATUS_LOOK_S} 2>/dev/null || break; i=$((i + 1)); done; cat {path}")


def reader_args(module_args: dict, sources: list[str]) -> dict:
    """progress_info's arguments: the module's own connections (the work's progress is kept where it runs)."""
    args = {key: module_args[key] for key in ("postgres_dsn", "mongodb_uri", "mongodb_database")
            if module_args.get(key)}
    args["sources"] = sources
    return args


def wants_progress(action: Any, interval: float) -> bool:
    """Progress only for real work: not in check mode, and not when the task runs the module as its own async job."""
    return interval > 0 and not action._task.async_val and not action._task.check_mode

"""Where the playbook's time goes: seconds per task of one `ansible-playbook playbooks/migrate.yml` run.

Diagnostic only (``--profile-playbook``). ansible-core has no per-task timer callback (profile_tasks lives in
ansible.posix), so a minimal one is written to a temporary directory and enabled for this one run.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.support.repo_paths import ROOT, VENV_BIN, VENV_PYTHON

CALLBACK = '''
from __future__ import annotations

import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_task_timer
type: aggregate
short_description: seconds per task
description: Prints the seconds each task took, slowest first.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = time.perf_counter()
        self.current = None
        self.rows = []

    def _close(self):
        if self.current:
            name, start = self.current
            self.rows.append((time.perf_counter() - start, name))
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = (task.get_name(), time.perf_counter())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        total = time.perf_counter() - self.started
        tasks = sum(secs for secs, _name in self.rows)
        self._display.display(f"BENCH-TASK-TIMES from the first task to the recap: {total:.2f} s, "
                              f"in {len(self.rows)} tasks {tasks:.2f} s")
        for secs, name in sorted(self.rows, reverse=True):
            if secs >= 0.05:
                self._display.display(f"BENCH-TASK {secs:7.3f}  {name}")
'''


def run(dsn: str, vars_file: Path) -> None:
    plugin_dir = Path(tempfile.mkdtemp(prefix="dbops-bench-callback-"))
    (plugin_dir / "bench_task_timer.py").write_text(CALLBACK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_PYTHON_INTERPRETER=str(VENV_PYTHON),
               PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=str(plugin_dir), ANSIBLE_CALLBACKS_ENABLED="bench_task_timer")
    started = time.perf_counter()
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "playbooks/migrate.yml", "-e", f"@{vars_file}", "-e", "dbops_target=localhost"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    print(f"\nwhere the playbook's time goes (one run, {wall:.2f} s wall clock including start-up; "
          f"exit {done.returncode}):")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-TASK"):
            print("  " + line.removeprefix("BENCH-TASK-TIMES ").removeprefix("BENCH-TASK "))
    for path in plugin_dir.iterdir():
        path.unlink()
    plugin_dir.rmdir()

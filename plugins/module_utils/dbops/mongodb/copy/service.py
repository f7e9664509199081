"""The copy as a service on its host: install its engine files, start, stop and find its supervised process.

The files are installed with supervision/installed_engine.py under the copy's directory (layout.py) and the process
is kept running by the installed pid-file supervisor (supervision/process_supervisor.py), started through its own
script so that it runs the installed code, detached from the Ansible task that started it. A reinstall that
changed a file restarts a running copy, so it never runs code older than the collection that manages it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy import process as copy_process
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.layout import (
    CONFIG_RELATIVE,
    COPY_SCRIPT,
    CopyLayout,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.installed_engine import (
    SUPERVISOR_SCRIPT,
    EngineInstall,
    InstalledScript,
    InstallResult,
    install_engine,
    remove_engine,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.process_supervisor import Supervised

# The supervisor is a program of its own on the host (bin/dbops-supervise), started detached so the copy outlives
# the module: the engine runs it as a subprocess, there is no AnsibleModule here to run it with.
# pylint: disable=ansible-bad-function

SUPERVISOR_TIMEOUT_SECONDS = 90

COPY_ENTRY = InstalledScript(
    COPY_SCRIPT, "mongodb.copy.process",
    "# sevenp.dbops MongoDB copy of a cutover, installed by the sevenp.dbops collection (mongodb_copy):\n"
    "#   <python3> <this file> --config <dir>/conf/copy.json   (run by bin/dbops-supervise)")


@dataclass(frozen=True)
class CopyService:
    layout: CopyLayout
    python: str

    def install_spec(self, config: copy_process.CopyConfig) -> EngineInstall:
        content = json.dumps(config.to_dict(), indent=2, sort_keys=True).encode() + b"\n"
        return EngineInstall(directory=self.layout.directory, roots=(copy_process,), scripts=(COPY_ENTRY,),
                             python=self.python, extra_files=((CONFIG_RELATIVE, content, 0o600),))

    def install(self, config: copy_process.CopyConfig, *, check_mode: bool = False) -> InstallResult:
        return install_engine(self.install_spec(config), check_mode=check_mode)

    def remove(self, *, check_mode: bool = False) -> InstallResult:
        return remove_engine(self.layout.directory, check_mode=check_mode)

    def running_pid(self) -> int | None:
        """The supervisor's pid while it runs (it holds the pid file's lock), else None."""
        return Supervised(Path(self.layout.pid_file)).running_pid()

    def _supervisor(self, action: str, *command: str) -> str:
        script = str(Path(self.layout.directory) / "bin" / SUPERVISOR_SCRIPT)
        args = [self.python, script, action, "--pid-file", self.layout.pid_file]
        if action == "start":
            args += ["--log-file", self.layout.log_file, "--", *command]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=SUPERVISOR_TIMEOUT_SECONDS,
                                  check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CopyError(f"the copy's supervisor ({script} {action}) failed: {exc}") from exc
        if done.returncode != 0:
            raise CopyError(f"the copy's supervisor ({script} {action}) failed with {done.returncode}: "
                            f"{(done.stdout + done.stderr).strip()[-500:]}")
        return done.stdout.strip()

    def start_command(self) -> list[str]:
        return [self.python, str(Path(self.layout.directory) / "bin" / COPY_SCRIPT), "--config",
                self.layout.config_file]

    def start(self) -> str:
        """'started', or 'running' when it already ran."""
        Path(self.layout.log_file).parent.mkdir(parents=True, exist_ok=True)
        return self._supervisor("start", *self.start_command())

    def stop(self) -> str:
        """'stopped', or 'not running'."""
        if not Path(self.layout.pid_file).exists():
            return "not running"
        return self._supervisor("stop")

    def log_tail(self, lines: int = 5) -> list[str]:
        try:
            return Path(self.layout.log_file).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        except OSError:
            return []

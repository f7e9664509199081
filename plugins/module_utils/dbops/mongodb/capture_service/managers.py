"""Who keeps the capture running: systemd where it is the init system, else the installed pid-file supervisor.

systemd is chosen when it runs the host (/run/systemd/system exists: sd_booted()'s test, true exactly when PID 1 is
systemd): the unit restarts the capture after a crash, starts it at boot and logs to the journal. In containers
and on hosts without systemd the supervisor (supervision/process_supervisor.py) does the same from a pid file,
restarting with a backoff and logging to <dir>/log/capture.log; it does not survive a reboot, the next
wal_archiving run starts it again. Both run the same command as the same OS user, with HOME set to the
installation directory, so no run depends on the passwd home of whoever started it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.install import (
    CaptureServiceError,
    CaptureServiceSpec,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.process_supervisor import Supervised

# The engine runs systemctl and the installed supervisor itself (it has no AnsibleModule and its run_command), so
# ansible-test's advice to use run_command does not apply here.
# pylint: disable=ansible-bad-function

SYSTEMD_RUN_DIR = "/run/systemd/system"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def systemd_runs() -> bool:
    return Path(SYSTEMD_RUN_DIR).is_dir()


def run_command(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CaptureServiceError(f"{argv[0]} failed: {exc}") from exc


def service_env(spec: CaptureServiceSpec) -> dict[str, str]:
    """The service's whole environment: no variable of the play (or its HOME) reaches the capture."""
    return {"PATH": SERVICE_PATH, "LANG": "C.UTF-8", "HOME": spec.directory}


@dataclass(frozen=True)
class ServiceState:
    running: bool
    pid: int | None = None


class SupervisorManager:
    kind = "supervisor"

    def __init__(self, spec: CaptureServiceSpec, runner: Callable[..., subprocess.CompletedProcess[str]] = run_command
                 ) -> None:
        self.spec = spec
        self.runner = runner

    def state(self) -> ServiceState:
        pid = Supervised(Path(self.spec.pid_file)).running_pid()
        return ServiceState(running=pid is not None, pid=pid if pid and pid > 0 else None)

    def start(self) -> bool:
        argv = self.spec.supervisor_command("start", "--pid-file", self.spec.pid_file, "--log-file",
                                            self.spec.log_file, "--", *self.spec.command())
        if self.spec.switches_user():
            argv = ["runuser", "-u", str(self.spec.os_user), "--", *argv]
        done = self.runner(argv, env=service_env(self.spec))
        if done.returncode != 0:
            raise CaptureServiceError(f"the supervisor of {self.spec.name} did not start (exit {done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-800:]}")
        return "started" in done.stdout

    def stop(self) -> bool:
        try:
            return Supervised(Path(self.spec.pid_file)).stop() == "stopped"
        except (OSError, RuntimeError) as exc:
            raise CaptureServiceError(f"cannot stop {self.spec.name}: {exc}") from exc

    def restart(self) -> None:
        self.stop()
        self.start()

    def files(self) -> list[str]:
        return []

    def install_unit(self, check_mode: bool) -> bool:
        return False

    def remove_unit(self, check_mode: bool) -> bool:
        return False


def unit_text(spec: CaptureServiceSpec) -> str:
    user = f"User={spec.os_user}\n" if spec.os_user else ""
    env = " ".join(f"{key}={value}" for key, value in service_env(spec).items())
    return f"""# Installed by the sevenp.dbops collection (wal_archiving / change_capture); rewritten on every run.
[Unit]
Description=sevenp.dbops MongoDB change capture of {spec.database} ({spec.name})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
{user}WorkingDirectory={spec.directory}
Environment={shlex.quote(env)}
ExecStart={" ".join(shlex.quote(part) for part in spec.command())}
Restart=always
RestartSec=2
# 2: the server no longer has the changes after the archive's end; only a new dump helps, not a restart.
RestartPreventExitStatus=2
# SIGTERM: the capture flushes what it holds first.
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
"""


class SystemdManager:
    kind = "systemd"

    def __init__(self, spec: CaptureServiceSpec, unit_dir: str = DEFAULT_UNIT_DIR,
                 runner: Callable[..., subprocess.CompletedProcess[str]] = run_command) -> None:
        self.spec = spec
        self.unit_path = Path(unit_dir) / f"{spec.name}.service"
        self.runner = runner

    def _systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = self.runner(["systemctl", *args])
        if check and done.returncode != 0:
            raise CaptureServiceError(f"systemctl {' '.join(args)} failed (exit {done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-800:]}")
        return done

    def state(self) -> ServiceState:
        active = self._systemctl("is-active", self.unit_path.name, check=False).stdout.strip() == "active"
        pid = None
        if active:
            shown = self._systemctl("show", "--property=MainPID", "--value", self.unit_path.name, check=False)
            pid = int(shown.stdout.strip()) if shown.stdout.strip().isdigit() else None
        return ServiceState(running=active, pid=pid or None)

    def install_unit(self, check_mode: bool) -> bool:
        """Write the unit when it differs, then daemon-reload and enable it (starting at boot)."""
        text = unit_text(self.spec)
        try:
            current = self.unit_path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current == text:
            return False
        if not check_mode:
            tmp = self.unit_path.with_name(f".{self.unit_path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.unit_path)
            self._systemctl("daemon-reload")
            self._systemctl("enable", self.unit_path.name)
        return True

    def start(self) -> bool:
        if self.state().running:
            return False
        self._systemctl("start", self.unit_path.name)
        return True

    def stop(self) -> bool:
        if not self.state().running:
            return False
        self._systemctl("stop", self.unit_path.name)
        return True

    def restart(self) -> None:
        self._systemctl("restart", self.unit_path.name)

    def remove_unit(self, check_mode: bool) -> bool:
        if not self.unit_path.exists():
            return False
        if not check_mode:
            self._systemctl("disable", self.unit_path.name, check=False)
            self.unit_path.unlink()
            self._systemctl("daemon-reload")
        return True

    def files(self) -> list[str]:
        return [str(self.unit_path)]


Manager = Union[SupervisorManager, SystemdManager]


def choose_manager(spec: CaptureServiceSpec, requested: str = "auto", unit_dir: str = DEFAULT_UNIT_DIR,
                   runner: Callable[..., subprocess.CompletedProcess[str]] = run_command) -> Manager:
    if requested not in ("auto", "systemd", "supervisor"):
        raise CaptureServiceError(f"unknown service manager {requested!r}: use auto, systemd or supervisor")
    if requested == "systemd" or (requested == "auto" and systemd_runs()):
        return SystemdManager(spec, unit_dir, runner)
    return SupervisorManager(spec, runner)

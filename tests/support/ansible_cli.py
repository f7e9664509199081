"""Running the collection the way users do: ansible-playbook on a playbook, or the module ad hoc, as subprocesses.

Inputs go through a JSON extra-vars file (as in `-e @vars.json`); results are read from the role's JSON report,
the PLAY RECAP line, or the module's JSON result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(**extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        PATH=str(BIN) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None  # the JSON summary the run wrote under dbops_report_dir, if any
    report_name: str = ""  # its file name (the HTML page is beside it, ending .html)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def recap(self, host: str = "localhost") -> dict[str, int]:
        line = next(line for line in self.stdout.splitlines() if line.startswith(host) and "changed=" in line)
        return {key: int(value) for key, value in (item.split("=") for item in line.split(":", 1)[1].split())}

    def explain(self) -> str:
        return f"rc={self.returncode}\n--- stdout (end)\n{self.stdout[-6000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"


def run_playbook(playbook: str, variables: dict, workdir: Path, *extra: str, timeout: int = 300,
                 env: dict[str, str] | None = None) -> PlaybookRun:
    """ansible-playbook -i localhost, -c local playbooks/<playbook> -e @vars.json -e dbops_target=localhost.

    env adds environment variables (a test callback's, for instance).
    """
    report_dir = Path(variables.setdefault("dbops_report_dir", str(workdir / "reports")))
    before = set(report_dir.glob("*.json")) if report_dir.exists() else set()
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps(variables))
    argv = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(ROOT / "playbooks" / playbook),
            "-e", f"@{vars_file}", "-e", "dbops_target=localhost", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=ansible_env(**(env or {})),
                          timeout=timeout, check=False)
    new_reports = sorted(set(report_dir.glob("*.json")) - before) if report_dir.exists() else []
    report = json.loads(new_reports[-1].read_text()) if new_reports else None
    return PlaybookRun(done.returncode, done.stdout, done.stderr, report, new_reports[-1].name if new_reports else "")


@dataclass
class ModuleRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_module(module: str, args: dict, *extra: str, timeout: int = 300) -> ModuleRun:
    """ansible localhost -m <module> -a '<json args>' [--check] [--diff]; the result parsed from its JSON."""
    argv = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", module,
            "-a", json.dumps(args), *extra]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=ansible_env(),
                          timeout=timeout, check=False)
    # The result is the JSON after "localhost | STATUS => "; with -v and more, other lines come before it.
    start = done.stdout.rfind("localhost | ")
    marker = done.stdout.find("=> {", start) if start >= 0 else -1
    result = json.JSONDecoder().raw_decode(done.stdout[marker + 3:])[0] if marker >= 0 else {}
    return ModuleRun(done.returncode, done.stdout, done.stderr, result)

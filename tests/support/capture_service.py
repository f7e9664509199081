"""Stopping the change capture services a test's playbook or module run left under its own install root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def capture_dirs(install_root: Path) -> list[Path]:
    return sorted(path for path in install_root.glob("dbops-change-capture-*") if path.is_dir())


def stop_capture_services(install_root: Path) -> None:
    """Stop every supervised capture below install_root (its supervisor, and with it the capture)."""
    for directory in capture_dirs(install_root):
        pid_file = directory / "run" / "capture.pid"
        supervise = directory / "bin" / "dbops-supervise"
        if pid_file.exists() and supervise.exists():
            subprocess.run([sys.executable, str(supervise), "stop", "--pid-file", str(pid_file)],
                           capture_output=True, check=False, timeout=120)


def supervised_child(directory: Path) -> int | None:
    """The capture process's pid under its supervisor, if one runs."""
    pid_file = directory / "run" / "capture.pid"
    try:
        supervisor = pid_file.read_text().strip()
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None

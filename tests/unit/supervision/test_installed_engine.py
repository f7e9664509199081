"""The shared installer: engine files found by their imports, idempotent atomic writes, a runnable entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core import errors
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision import process_supervisor
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.installed_engine import (
    LIB_ROOT,
    EngineInstall,
    EngineInstallError,
    InstalledScript,
    engine_files,
    install_engine,
    remove_engine,
)


def _spec(directory: Path) -> EngineInstall:
    return EngineInstall(
        directory=str(directory), roots=(process_supervisor,), python=sys.executable,
        scripts=(InstalledScript("dbops-probe", "supervision.process_supervisor", "# a probe"),),
        extra_files=(("conf/probe.json", b'{"a": 1}\n', 0o600),))


def test_engine_files_follow_imports_and_packages() -> None:
    relatives = [relative for relative, _module in engine_files((errors,))]
    assert "core/errors.py" in relatives
    assert "__init__.py" in relatives and "core/__init__.py" in relatives


def test_install_is_idempotent_and_check_mode_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "svc"
    planned = install_engine(_spec(target), check_mode=True)
    assert planned.changed and not target.exists()
    first = install_engine(_spec(target))
    assert first.changed
    assert (target / LIB_ROOT / "supervision" / "process_supervisor.py").is_file()
    assert (target / "conf" / "probe.json").stat().st_mode & 0o777 == 0o600
    again = install_engine(_spec(target))
    assert not again.changed and again.written == []


def test_installed_entry_point_runs_outside_the_checkout(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "svc")
    install_engine(spec)
    pid_file = tmp_path / "none.pid"
    result = subprocess.run([*spec.command("dbops-supervise", "status", "--pid-file", str(pid_file))],
                            capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode == process_supervisor.EXIT_NOT_RUNNING, result.stderr


def test_remove(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "svc")
    install_engine(spec)
    assert remove_engine(spec.directory, check_mode=True).changed and Path(spec.directory).exists()
    assert remove_engine(spec.directory).changed and not Path(spec.directory).exists()
    assert not remove_engine(spec.directory).changed
    with pytest.raises(EngineInstallError):
        remove_engine("relative/dir")

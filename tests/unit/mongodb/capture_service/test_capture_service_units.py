"""The capture service's naming, systemd unit and manager choice (systemd itself does not run on the test machine:
its commands are recorded by a fake runner; the supervisor path is tested against real servers in
tests/integration/jobs/test_change_capture_service.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service import managers
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.install import (
    CaptureServiceError,
    CaptureServiceSpec,
    install,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.naming import (
    cluster_identity,
    install_dir,
    service_name,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.service import (
    CaptureServiceRequest,
    manage_capture_service,
)


def test_name_depends_on_cluster_and_database_never_on_credentials() -> None:
    plain = service_name("mongodb://db1:27017,db2:27017/?replicaSet=rs0", "app")
    assert plain.startswith("dbops-change-capture-app-") and len(plain.rsplit("-", 1)[1]) == 8
    assert service_name("mongodb://u:secret@DB2:27017,db1:27017/admin?replicaSet=rs0", "app") == plain
    assert service_name("mongodb://db1:27017,db2:27017/?replicaSet=rs1", "app") != plain
    assert service_name("mongodb://db1:27017,db2:27017/?replicaSet=rs0", "other") != plain
    assert "secret" not in cluster_identity("mongodb://u:secret@db1/?replicaSet=rs0")
    assert service_name("mongodb://h/", "we/ird db") == service_name("mongodb://h/", "we/ird db")
    assert "/" not in service_name("mongodb://h/", "we/ird db")
    assert install_dir("/var/lib/sevenp-dbops", plain) == f"/var/lib/sevenp-dbops/{plain}"


def _spec(tmp_path: Path, **config: object) -> CaptureServiceSpec:
    return CaptureServiceSpec(directory=str(tmp_path / "svc"), name="dbops-change-capture-app-0123abcd",
                              python="/usr/bin/python3", os_user="dbops",
                              config={"mongodb_uri": "mongodb://u:pw@h/", "database": "app",
                                      "repository": "/backups", **config})


def test_unit_runs_the_installed_command_without_secrets(tmp_path: Path) -> None:
    text = managers.unit_text(_spec(tmp_path))
    assert f"ExecStart=/usr/bin/python3 {tmp_path}/svc/bin/dbops-change-capture --config " \
           f"{tmp_path}/svc/conf/capture.json" in text
    assert "User=dbops" in text and "Restart=always" in text and "RestartPreventExitStatus=2" in text
    assert f"HOME={tmp_path}/svc" in text
    assert "pw" not in text.replace("pwd", "")


class FakeSystemctl:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.active = False

    def __call__(self, argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv[1:])
        verb = argv[1]
        if verb == "start" or verb == "restart":
            self.active = True
        elif verb == "stop":
            self.active = False
        out = ""
        if verb == "is-active":
            out = "active\n" if self.active else "inactive\n"
        elif verb == "show":
            out = "4242\n" if self.active else "0\n"
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_systemd_manager_installs_enables_starts_then_changes_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec = CaptureServiceSpec(directory=spec.directory, name=spec.name, python=spec.python, config=spec.config)
    systemctl = FakeSystemctl()
    units = tmp_path / "units"
    units.mkdir()
    manager = managers.SystemdManager(spec, str(units), systemctl)
    # The service's start is confirmed by the status file the real service writes; written here by hand.
    status = Path(spec.status_file)

    def starting(argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess[str]:
        if argv[1] in ("start", "restart"):
            status.parent.mkdir(parents=True, exist_ok=True)
            status.write_text('{"state": "running"}')
        return systemctl(argv, env)

    manager.runner = starting
    first = manage_capture_service(CaptureServiceRequest(state="started", spec=spec), manager)
    assert first.changed and first.running and first.pid == 4242 and first.manager == "systemd"
    assert (units / f"{spec.name}.service").is_file()
    assert ["daemon-reload"] in systemctl.calls and ["enable", f"{spec.name}.service"] in systemctl.calls
    assert ["start", f"{spec.name}.service"] in systemctl.calls

    systemctl.calls.clear()
    again = manage_capture_service(CaptureServiceRequest(state="started", spec=spec), manager)
    assert not again.changed and not again.restarted
    assert all(call[0] in ("is-active", "show") for call in systemctl.calls)

    changed = CaptureServiceSpec(directory=spec.directory, name=spec.name, python=spec.python,
                                 config={**spec.config, "flush_interval_seconds": 0.5})
    restarted = manage_capture_service(CaptureServiceRequest(state="started", spec=changed),
                                       managers.SystemdManager(changed, str(units), starting))
    assert restarted.changed and restarted.restarted

    gone = manage_capture_service(CaptureServiceRequest(state="absent", spec=changed),
                                  managers.SystemdManager(changed, str(units), systemctl))
    assert gone.changed and not (units / f"{spec.name}.service").exists() and not Path(spec.directory).exists()
    assert ["stop", f"{spec.name}.service"] in systemctl.calls
    assert ["disable", f"{spec.name}.service"] in systemctl.calls


def test_check_mode_writes_and_runs_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec = CaptureServiceSpec(directory=spec.directory, name=spec.name, python=spec.python, config=spec.config)
    systemctl = FakeSystemctl()
    manager = managers.SystemdManager(spec, str(tmp_path), systemctl)
    planned = manage_capture_service(CaptureServiceRequest(state="started", spec=spec, check_mode=True), manager)
    assert planned.changed and planned.queries == [f"start {spec.name}"]
    assert not Path(spec.directory).exists() and not (tmp_path / f"{spec.name}.service").exists()
    assert all(call[0] in ("is-active", "show") for call in systemctl.calls)


def test_choose_manager(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    monkeypatch.setattr(managers, "systemd_runs", lambda: False)
    assert managers.choose_manager(spec).kind == "supervisor"
    monkeypatch.setattr(managers, "systemd_runs", lambda: True)
    assert managers.choose_manager(spec).kind == "systemd"
    assert managers.choose_manager(spec, "supervisor").kind == "supervisor"
    with pytest.raises(CaptureServiceError, match="unknown service manager"):
        managers.choose_manager(spec, "upstart")


def test_install_refuses_an_incomplete_configuration(tmp_path: Path) -> None:
    spec = CaptureServiceSpec(directory=str(tmp_path / "svc"), name="x", python="/usr/bin/python3",
                              config={"database": "app"})
    with pytest.raises(CaptureServiceError, match="needs mongodb_uri"):
        install(spec)

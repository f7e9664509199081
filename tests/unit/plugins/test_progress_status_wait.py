"""status_wait_command: the job-status read that waits on the host for an asynchronous job to end.

Run by a real /bin/sh on a real status file, written as async_wrapper writes it (a record beside it, renamed over).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.plugin_utils.progress_poll import status_wait_command


def _write(path: Path, record: dict) -> None:
    # json.dumps with its default separators, as async_wrapper's jwrite does.
    beside = path.with_suffix(".tmp")
    beside.write_text(json.dumps(record))
    os.rename(beside, path)


def _run(command: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False, timeout=30)
    return done, time.monotonic() - started


def test_a_running_job_is_waited_for_until_the_wait_ends(tmp_path):
    status = tmp_path / "j1.1"
    _write(status, {"started": True, "finished": False, "ansible_job_id": "j1.1"})
    done, seconds = _run(status_wait_command(str(status), 0.6))
    assert done.returncode == 0 and json.loads(done.stdout)["finished"] is False
    assert 0.5 <= seconds < 3


def test_the_running_record_of_older_ansible_cores_is_waited_for_too(tmp_path):
    status = tmp_path / "j4.1"
    _write(status, {"started": 1, "finished": 0, "ansible_job_id": "j4.1"})
    done, seconds = _run(status_wait_command(str(status), 0.6))
    assert done.returncode == 0 and json.loads(done.stdout)["finished"] == 0
    assert 0.5 <= seconds < 3


def test_the_end_of_the_job_ends_the_wait_at_once(tmp_path):
    status = tmp_path / "j2.1"
    _write(status, {"started": True, "finished": False, "ansible_job_id": "j2.1"})
    result = {"changed": True, "applied": ["0001"], "note": '{"started": true, "finished": false'}
    writer = threading.Timer(0.3, _write, (status, result))
    writer.start()
    try:
        done, seconds = _run(status_wait_command(str(status), 5.0))
    finally:
        writer.join()
    assert done.returncode == 0 and json.loads(done.stdout) == result
    assert seconds < 2.5  # seen within one look after 0.3 s, not at the end of the 5 s wait


def test_a_finished_job_is_read_without_waiting(tmp_path):
    status = tmp_path / "j3.1"
    _write(status, {"changed": False, "msg": "done"})
    done, seconds = _run(status_wait_command(str(status), 5.0))
    assert json.loads(done.stdout) == {"changed": False, "msg": "done"} and seconds < 2


def test_a_missing_status_file_fails_the_read_at_once(tmp_path):
    done, seconds = _run(status_wait_command(str(tmp_path / "gone"), 5.0))
    assert done.returncode != 0 and seconds < 2


def test_a_path_with_shell_characters_is_quoted(tmp_path):
    status = tmp_path / "it's $(here)"
    _write(status, {"changed": False})
    done, _seconds = _run(status_wait_command(str(status), 1.0))
    assert done.returncode == 0 and json.loads(done.stdout) == {"changed": False}

"""Stopping the MongoDB copy processes (cutover) that a test's playbook or module run left running under its own
directory: after a fallback the reverse copy keeps going, as it should in production, and against servers the test
has stopped it would keep restarting for good."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.process_supervisor import Supervised


def stop_copies(root: Path) -> list[str]:
    """Stop every supervised copy below root (its supervisor, and with it the copy); the ones stopped."""
    stopped = []
    for pid_file in sorted(root.glob("**/mongodb-copy/*/run/copy.pid")):
        if Supervised(pid_file=pid_file).stop(timeout=30) == "stopped":
            stopped.append(str(pid_file.relative_to(root)))
    return stopped

"""Ansible's own state directory for a test session, so that no test reads or writes $HOME.

Ansible puts its local temp files, galaxy cache and persistent connections under ANSIBLE_HOME (default
~/.ansible). A test run with HOME pointing elsewhere (a CI job, AWX, `sudo -u`), or at a directory that cannot be
written, must behave the same: the session gets a fresh directory of its own, removed when the session ends.
An ANSIBLE_HOME (or temp directory) the caller set, the Makefile's for instance, is kept.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# The settings that default to somewhere under $HOME (async jobs' status files: ~/.ansible_async), unless set.
_UNDER_HOME = {"ANSIBLE_LOCAL_TEMP": "tmp", "ANSIBLE_REMOTE_TEMP": "tmp", "ANSIBLE_ASYNC_DIR": "async"}


def isolate_ansible_home() -> str:
    """Point ANSIBLE_HOME and Ansible's temp directories away from $HOME (os.environ, so subprocesses see it)."""
    home = os.environ.get("ANSIBLE_HOME")
    if not home:
        home = tempfile.mkdtemp(prefix="dbops-ansible-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ["ANSIBLE_HOME"] = home
    os.makedirs(home, exist_ok=True)
    for name, below in _UNDER_HOME.items():
        os.environ.setdefault(name, os.path.join(home, below))
    return home

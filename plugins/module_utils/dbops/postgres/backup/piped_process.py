"""A child process we read through pipes (a decompressor feeding tar or a tar reader).

subprocess types a Popen's stdout and stderr as optional because they exist only when asked for; here they always
are, so this record carries them as present and the readers need no None checks of their own.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import IO

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

# The engine runs the compressors' programs itself (it has no AnsibleModule and its run_command).
# pylint: disable=ansible-bad-function


@dataclass(frozen=True)
class PipedProcess:
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]


def start_piped(argv: list[str], stdin: int | None = None) -> PipedProcess:
    """Start argv with its stdout and stderr as pipes to us (stdin: a file descriptor it reads, ours by default)."""
    # pylint: disable-next=consider-using-with
    process = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if process.stdout is None or process.stderr is None:  # cannot happen with PIPE: this narrows the type
        process.kill()
        process.wait()
        raise DbopsError(f"{argv[0]} started without its output pipes")
    return PipedProcess(process, process.stdout, process.stderr)

"""A one-line description of the machine and its load, printed with every result (other work may share it)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def _proc_field(path: str, prefix: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), None)


def describe() -> str:
    cpus = os.cpu_count() or 0
    model = _proc_field("/proc/cpuinfo", "model name") or "cpu unknown"
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    mem = f"{int(mem_kb.split()[0]) / 1024 / 1024:.0f} GiB RAM" if mem_kb else "RAM unknown"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}; {cpus} cores ({model}), {mem}; {platform.system()} {platform.release()}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"

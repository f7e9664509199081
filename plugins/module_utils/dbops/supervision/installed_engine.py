"""Installing part of the engine on a host, to run as a long-lived service outside any Ansible module.

A module's code lives in a temporary zip for the length of one task; a service (the MongoDB copy of a cutover, the
change capture, the WAL uploader) outlives it. So the engine modules a service needs are copied into a directory of
its own, with an entry point per command and the pid-file supervisor beside them:

    <dir>/bin/<script>                              entry point: <dir>/lib on sys.path, then the module's main()
    <dir>/bin/dbops-supervise                       the pid-file supervisor (supervision/process_supervisor.py)
    <dir>/lib/ansible_collections/.../dbops/...     the engine files, found by following the roots' imports
    <dir>/<extra files>                             e.g. conf/<name>.json, 0600

The files are copied from the very modules imported here (inspect.getsource works from a module's zip payload as
well as from a checkout), so the service always matches the collection that installed it. Every file is rewritten
only when its content or mode differs, atomically, so a rerun reports no change.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision import process_supervisor

PACKAGE_ROOT = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops"
LIB_ROOT = "lib/ansible_collections/sevenp/dbops/plugins/module_utils/dbops"
SUPERVISOR_SCRIPT = "dbops-supervise"

_ENGINE_IMPORT = re.compile(r"^from (" + re.escape(PACKAGE_ROOT) + r"(?:\.\w+)+) import ([\w, ()\n]+?)$", re.MULTILINE)


class EngineInstallError(DbopsError):
    """The engine files of a service could not be installed or removed."""


@dataclass(frozen=True)
class InstalledScript:
    name: str  # the file under <directory>/bin
    module: str  # engine module relative to the dbops package, with a main() -> int
    header: str  # comment lines, each starting with "# "


@dataclass(frozen=True)
class EngineInstall:
    directory: str
    roots: tuple[ModuleType, ...]
    scripts: tuple[InstalledScript, ...]
    python: str = "/usr/bin/python3"
    extra_files: tuple[tuple[str, bytes, int], ...] = ()
    owner_ids: tuple[int, int] | None = None

    def script_path(self, name: str) -> str:
        return str(Path(self.directory) / "bin" / name)

    def command(self, name: str, *args: str) -> list[str]:
        return [self.python, self.script_path(name), *args]


@dataclass
class InstallResult:
    changed: bool = False
    written: list[str] = field(default_factory=list)


def module_source(module: ModuleType) -> str:
    """THE text of an engine module, as every installed copy gets it: inspect.getsource (from a checkout as from the
    module's zip payload), and for what it refuses - an empty file, a package's bare __init__.py ("could not get
    source code") - the module loader's own text (some loaders hand bytes)."""
    try:
        return inspect.getsource(module)
    except OSError:
        pass  # an empty file, or no source the inspect module can find
    loader = getattr(module, "__loader__", None)
    source = loader.get_source(module.__name__) if loader is not None and hasattr(loader, "get_source") else None
    if source is None:
        raise EngineInstallError(f"the engine module {module.__name__} has no source to install")
    return source.decode("utf-8") if isinstance(source, bytes) else str(source)


def engine_files(roots: tuple[ModuleType, ...]) -> tuple[tuple[str, ModuleType], ...]:
    """(path under LIB_ROOT, module) for the roots and every engine module they import, with their packages.

    Found by following the imports, so moving or splitting a file in the engine never leaves an installed service
    without one it needs. Modules imported inside functions are not seen: name them as roots.
    """
    files: dict[str, ModuleType] = {}
    pending = list(roots)
    while pending:
        module = pending.pop()
        parts = module.__name__[len(PACKAGE_ROOT) + 1:].split(".")
        relative = "/".join(parts) + ".py"
        if relative in files:
            continue
        files[relative] = module
        for depth in range(len(parts)):
            package = ".".join([PACKAGE_ROOT, *parts[:depth]])
            files.setdefault("/".join([*parts[:depth], "__init__.py"]), importlib.import_module(package))
        for match in _ENGINE_IMPORT.finditer(module_source(module)):
            target = match.group(1)
            try:
                pending.append(importlib.import_module(target))
            except ImportError:
                continue
            if not hasattr(importlib.import_module(target), "__path__"):
                continue
            for name in re.findall(r"\w+", match.group(2)):
                submodule = f"{target}.{name}"
                if name != "as" and importlib.util.find_spec(submodule) is not None:
                    pending.append(importlib.import_module(submodule))
    return tuple(sorted(files.items()))


def entry_point(header: str, module: str) -> str:
    """An installed script: its header comment, <dir>/lib on sys.path, then the engine module's main()."""
    return f"""#!/usr/bin/env python3
{header}
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "lib"))

from {PACKAGE_ROOT}.{module} import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
"""


SUPERVISOR = InstalledScript(
    SUPERVISOR_SCRIPT, "supervision.process_supervisor",
    "# sevenp.dbops pid-file supervisor, installed by the sevenp.dbops collection: keeps a service running where\n"
    "# no systemd does.")


def write_if_different(path: Path, content: bytes, mode: int, owner_ids: tuple[int, int] | None,
                       result: InstallResult, check_mode: bool) -> None:
    """Write atomically (temporary file, fsync, rename) unless the file already has this content, mode and owner."""
    try:
        stat = path.stat()
        same = (path.read_bytes() == content and (stat.st_mode & 0o777) == mode
                and (owner_ids is None or (stat.st_uid, stat.st_gid) == owner_ids))
    except OSError:
        same = False
    if same:
        return
    result.changed = True
    result.written.append(str(path))
    if check_mode:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dbops-tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner_ids is not None:
            os.chown(tmp, *owner_ids)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_dir(path: Path, mode: int, result: InstallResult, check_mode: bool) -> None:
    if path.is_dir():
        if (path.stat().st_mode & 0o777) != mode:
            result.changed = True
            if not check_mode:
                os.chmod(path, mode)
        return
    result.changed = True
    result.written.append(str(path) + "/")
    if not check_mode:
        path.mkdir(parents=True, mode=mode, exist_ok=True)
        os.chmod(path, mode)


def install_engine(spec: EngineInstall, *, check_mode: bool = False) -> InstallResult:
    """Install or update the service's files; directories are 0755 so the OS user a service runs as can read them."""
    result = InstallResult()
    base = Path(spec.directory)
    if not base.is_absolute():
        raise EngineInstallError(f"install directory {spec.directory!r} must be an absolute path")
    try:
        ensure_dir(base, 0o755, result, check_mode)
        ensure_dir(base / "bin", 0o755, result, check_mode)
        files = engine_files((*spec.roots, process_supervisor))
        for directory in sorted({(base / LIB_ROOT / relative).parent for relative, _module in files}
                                | _lib_parents(base), key=lambda path: len(path.parts)):
            ensure_dir(directory, 0o755, result, check_mode)
        for relative, module in files:
            write_if_different(base / LIB_ROOT / relative, module_source(module).encode(), 0o644, None, result,
                               check_mode)
        for script in (*spec.scripts, SUPERVISOR):
            write_if_different(Path(spec.script_path(script.name)), entry_point(script.header, script.module).encode(),
                               0o755, None, result, check_mode)
        for relative_path, content, mode in spec.extra_files:
            target = base / relative_path
            ensure_dir(target.parent, 0o755, result, check_mode)
            write_if_different(target, content, mode, spec.owner_ids, result, check_mode)
    except OSError as exc:
        raise EngineInstallError(f"cannot install the service's files in {spec.directory}: {exc}") from exc
    return result


def _lib_parents(base: Path) -> set[Path]:
    """<dir>/lib and each directory down to the dbops package."""
    parents, probe = set(), base / LIB_ROOT
    while probe != base:
        parents.add(probe)
        probe = probe.parent
    return parents


def remove_engine(directory: str, *, check_mode: bool = False) -> InstallResult:
    """Remove an installed service's directory (stop the service first); nothing to remove is no change."""
    result = InstallResult()
    base = Path(directory)
    if not base.is_absolute() or base == Path("/"):
        raise EngineInstallError(f"install directory {directory!r} must be an absolute path below /")
    if not base.exists():
        return result
    result.changed = True
    result.written.append(str(base) + "/")
    if check_mode:
        return result
    try:
        shutil.rmtree(base)
    except OSError as exc:
        raise EngineInstallError(f"cannot remove {directory}: {exc}") from exc
    return result

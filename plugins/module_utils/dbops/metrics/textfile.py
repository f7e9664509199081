"""Updating the textfile that node_exporter's textfile collector reads: merged, locked, atomic.

Each role writes the families it knows about and keeps the others' (a backup run does not erase the migration
metrics). The file is replaced by rename, so the collector never reads half of it, and updates from concurrent
runs on one host are serialised by a lock file next to it (node_exporter reads only *.prom files).
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.exposition import parse, render
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.family import MetricFamily, MetricsError

DEFAULT_FILE_NAME = "sevenp_dbops.prom"


@dataclass
class TextfileUpdate:
    path: str
    changed: bool
    written: bool
    families: list[str]
    content: str
    before: str
    diff: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merged(existing: str, families: list[MetricFamily], replace_names: tuple[str, ...] = ()) -> str:
    """The existing file updated with the given families. A family named in replace_names is replaced whole (its
    source reported all of it: a sample it no longer reports must not stay stale); any other one is merged sample
    by sample, the new value replacing the one with the same labels (a logical backup keeps the base backup's)."""
    kept = {family.name: family for family in parse(existing)}
    for name in replace_names:
        kept.pop(name, None)
    for family in families:
        old = kept.get(family.name)
        if old is None or family.name in replace_names:
            kept[family.name] = family
            continue
        by_labels = {sample.labels: sample for sample in old.samples}
        by_labels.update({sample.labels: sample for sample in family.samples})
        kept[family.name] = MetricFamily(family.name, family.help, family.type, list(by_labels.values()))
    return render(list(kept.values()))


def _write_atomically(path: Path, content: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # node_exporter runs as its own user
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def update_textfile(directory: str, families: list[MetricFamily], *, file_name: str = DEFAULT_FILE_NAME,
                    replace_names: tuple[str, ...] = (), create_dir: bool = False,
                    check_mode: bool = False) -> TextfileUpdate:
    folder = Path(directory)
    if not file_name.endswith(".prom") or "/" in file_name:
        raise MetricsError(f"metrics file name {file_name!r} must be a plain name ending in .prom (node_exporter "
                           "reads only those)")
    if not folder.is_dir():
        if not create_dir:
            raise MetricsError(f"metrics directory {directory} does not exist (node_exporter's textfile directory; "
                               "set dbops_metrics_dir to it, or to an empty string to write no metrics)")
        if not check_mode:
            folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    with _locked(path) if folder.is_dir() else contextlib.nullcontext():
        try:
            before = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            before = ""
        except OSError as exc:
            raise MetricsError(f"cannot read {path}: {exc}") from exc
        content = merged(before, families, replace_names)
        changed = content != before
        if changed and not check_mode:
            try:
                _write_atomically(path, content)
            except OSError as exc:
                raise MetricsError(f"cannot write {path}: {exc}") from exc
    diff = list(difflib.unified_diff(before.splitlines(), content.splitlines(), str(path), str(path), lineterm=""))
    return TextfileUpdate(path=str(path), changed=changed, written=changed and not check_mode,
                          families=sorted(f.name for f in families if f.samples), content=content, before=before,
                          diff=diff)

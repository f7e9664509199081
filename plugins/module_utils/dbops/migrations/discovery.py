"""Finding migration sets on disk: the native layout, or adopted golang-migrate, Flyway, dbmate and Sqitch directories.

The format is detected from the directory's content; mixing formats in one directory is an error. Every
directory is listed through _scan, which refuses a symbolic link leading outside the migrations directory before
anything is read through it, so no file from elsewhere is ever read, echoed or hashed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.checksum import part_checksum
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import load_manifest
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import (
    Manifest,
    MigrationSet,
    MongoPart,
    PostgresOptions,
    PostgresPart,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.placeholders import replace_placeholders
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.repeatable import REPEATABLE_PREFIX
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.source_text import read_source
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.sqitch_plan import (
    SQITCH_PLAN,
    SQITCH_SCRIPT_DIRS,
    SqitchChange,
    SqitchPlan,
    parse_plan,
    script_stem,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_order import (
    is_zero,
    version_key,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.version_syntax import version_problem

# [0-9], not \d: \d also matches other scripts' digits (full-width, Arabic-Indic), refused as versions.
NATIVE_DIR = re.compile(r"^([0-9]+(?:\.[0-9]+)*)_([A-Za-z0-9][A-Za-z0-9_.-]*)$")
GOLANG_FILE = re.compile(r"^([0-9]+)_(.+)\.(up|down)\.sql$")
FLYWAY_FILE = re.compile(r"^([VU])([0-9]+(?:[._][0-9]+)*)__(.+)\.sql$")
FLYWAY_REPEATABLE = re.compile(r"^R__(.+)\.sql$")
DBMATE_FILE = re.compile(r"^([0-9]+)_(.+)\.sql$")
DBMATE_MARKER = re.compile(r"^--\s*migrate:(up|down)\b(.*)$", re.MULTILINE)

NATIVE_FILES = {
    "migration.yml", "migration.yaml", "postgres.up.sql", "postgres.down.sql", "postgres.verify.sql",
    "mongodb.yml", "mongodb.yaml", "mongodb.py",
}


def _read(path: Path) -> str:
    return read_source(path)


def _refuse_outside(path: Path, root: Path) -> None:
    """A symbolic link is followed only when it stays inside the migrations directory (root, resolved)."""
    if not path.is_symlink():
        return
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # dangling, or a loop
        raise MigrationFormatError("is a symbolic link that leads nowhere (dangling or a loop)", path=path) from exc
    if not resolved.is_relative_to(root):
        raise MigrationFormatError("is a symbolic link to a place outside migrations_dir: refused (files are read "
                                   "only from inside the migrations directory)", path=path)


def _scan(directory: Path, root: Path) -> list[os.DirEntry]:
    """The entries of a directory, sorted by name, hidden ones (.name) left out, links outside root refused."""
    # os.scandir, not Path.iterdir: discovery of hundreds of sets is part of every run's fixed cost.
    with os.scandir(directory) as listing:
        entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
    for entry in entries:
        if entry.is_symlink():
            _refuse_outside(Path(entry.path), root)
    return entries


def _has_sql(text: str) -> bool:
    """True if the text holds more than comments, blanks and semicolons."""
    without_comments = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return any(line.strip().strip(";").strip() and not line.strip().startswith("--")
               for line in without_comments.splitlines())


def _require_sql(sql: str, path: Path, version: str) -> None:
    if not _has_sql(sql):
        raise MigrationFormatError("has no SQL (it is empty, or holds only comments and blanks): write the "
                                   "part's statements, or remove the file", version=version, path=path)


def _ignored(name: str) -> bool:
    return name.startswith((".", "_")) or name.lower().endswith((".md", ".txt", ".rst"))


def _check_versions(sets: list[MigrationSet]) -> list[MigrationSet]:
    """Sort naturally and refuse two names for one version (001 and 1) and the reserved version 0."""
    seen: dict[tuple, MigrationSet] = {}
    for mset in sets:
        if is_zero(mset.version):
            raise MigrationFormatError("version 0 is reserved (it means 'before the first set')",
                                       version=mset.version, path=mset.path)
        key = version_key(mset.version)
        if key in seen:
            raise MigrationFormatError(f"version {mset.version} is also used by {seen[key].path}",
                                       version=mset.version, path=mset.path)
        seen[key] = mset
    return sorted(sets, key=lambda s: version_key(s.version))


def _native_name(directory: Path) -> tuple[str, str]:
    """(version, slug) of a set directory's name; the error names what is odd about it."""
    match = NATIVE_DIR.match(directory.name)
    if match is not None:
        return match.group(1), match.group(2)
    version, separator, slug = directory.name.partition("_")
    problem = version_problem(version) if separator and slug else None
    if problem:
        raise MigrationFormatError(f"{problem}: a version is ASCII digits in dot-separated groups, e.g. "
                                   "2024.001_create_auth", path=directory)
    raise MigrationFormatError("set directory names are <version>_<slug>, e.g. 2024.001_create_auth", path=directory)


def _native_set(directory: Path, root: Path) -> MigrationSet:
    version, slug = _native_name(directory)
    files: dict[str, Path] = {}
    for entry in _scan(directory, root):
        if _ignored(entry.name):
            continue
        if entry.name not in NATIVE_FILES or not entry.is_file():
            raise MigrationFormatError(
                f"unexpected file {entry.name}; a set holds migration.yml, postgres.up.sql, postgres.down.sql, "
                "postgres.verify.sql, mongodb.yml or mongodb.py", version=version, path=directory / entry.name)
        files[entry.name] = directory / entry.name
    if "migration.yml" in files and "migration.yaml" in files:
        raise MigrationFormatError("both migration.yml and migration.yaml: keep one", version=version, path=directory)
    manifest_path = files.get("migration.yml") or files.get("migration.yaml")
    try:
        manifest = load_manifest(manifest_path) if manifest_path else Manifest()
    except MigrationFormatError as exc:
        raise MigrationFormatError(exc.message, version=version, path=exc.path) from exc

    postgres = None
    up_path = files.get("postgres.up.sql")
    down_path = files.get("postgres.down.sql")
    verify_path = files.get("postgres.verify.sql")
    if up_path or manifest.backfill or manifest.online_change:
        contents = {p.name: _read(p) for p in (up_path, down_path, verify_path) if p is not None}
        if up_path is not None:
            _require_sql(contents["postgres.up.sql"], up_path, version)
        verify_sql = contents.get("postgres.verify.sql")
        if manifest.validate.get("postgres"):
            if verify_sql is not None:
                raise MigrationFormatError("validate.postgres and postgres.verify.sql both given: keep one",
                                           version=version, path=manifest_path)
            verify_sql = manifest.validate["postgres"]
        hashed = [(name, text.encode("utf-8")) for name, text in contents.items()]
        if manifest.backfill:
            # The backfill declaration is part of what the PostgreSQL part does: changing it is drift too.
            hashed.append(("backfill", repr(manifest.backfill).encode("utf-8")))
        if manifest.online_change:
            hashed.append(("online_change", repr(manifest.online_change).encode("utf-8")))
        postgres = PostgresPart(
            up_sql=contents.get("postgres.up.sql", ""),
            down_sql=contents.get("postgres.down.sql"),
            verify_sql=verify_sql,
            up_path=up_path,
            down_path=down_path,
            verify_path=verify_path,
            options=manifest.postgres,
            backfill=manifest.backfill,
            checksum=part_checksum(hashed),
            online_change=manifest.online_change,
        )
    elif down_path or verify_path:
        raise MigrationFormatError("postgres.down.sql/postgres.verify.sql without postgres.up.sql",
                                   version=version, path=down_path or verify_path)

    mongo_files = [files[n] for n in ("mongodb.yml", "mongodb.yaml", "mongodb.py") if n in files]
    if len(mongo_files) > 1:
        raise MigrationFormatError("more than one MongoDB part (mongodb.yml / mongodb.py): keep one",
                                   version=version, path=directory)
    mongodb = None
    if mongo_files:
        mpath = mongo_files[0]
        source = _read(mpath)
        if not source.strip():
            raise MigrationFormatError("is empty: write the part's operations, or remove the file", version=version,
                                       path=mpath)
        mongodb = MongoPart(kind="python" if mpath.suffix == ".py" else "yaml", path=mpath, source=source,
                            checksum=part_checksum([(mpath.name, source.encode("utf-8"))]))
    if postgres is None and mongodb is None:
        raise MigrationFormatError("the set has no part: add postgres.up.sql, mongodb.yml or mongodb.py",
                                   version=version, path=directory)
    return MigrationSet(version=version, slug=slug, path=directory, manifest=manifest, postgres=postgres,
                        mongodb=mongodb)


def _adopted_part(up_sql: str, down_sql: str | None, up_path: Path, down_path: Path | None,
                  hashed: list[tuple[str, bytes]], fmt: str, options: PostgresOptions | None = None) -> PostgresPart:
    return PostgresPart(up_sql=up_sql, down_sql=down_sql, verify_sql=None, up_path=up_path, down_path=down_path,
                        verify_path=None, options=options or PostgresOptions(), backfill=(),
                        checksum=part_checksum(hashed), source_format=fmt)


def _pair_up_down(parsed: list[tuple[str, str, bool, Path]], words: tuple[str, str],
                  orphan: str) -> tuple[dict[str, tuple[str, Path]], dict[str, Path]]:
    """(ups by version, downs by version) of (version, slug, is_up, path) file names; refuses doubles and orphans."""
    ups: dict[str, tuple[str, Path]] = {}
    downs: dict[str, Path] = {}
    for version, slug, is_up, path in parsed:
        if version in (ups if is_up else downs):
            raise MigrationFormatError(f"two {words[0] if is_up else words[1]} files for version {version}",
                                       version=version, path=path)
        if is_up:
            ups[version] = (slug, path)
        else:
            downs[version] = path
    for version, path in downs.items():
        if version not in ups:
            raise MigrationFormatError(orphan, version=version, path=path)
    return ups, downs


def _golang_sets(files: list[Path]) -> list[MigrationSet]:
    parsed = []
    for path in files:
        match = GOLANG_FILE.match(path.name)
        if not match:
            raise MigrationFormatError("not a golang-migrate file name (NNN_name.up.sql / NNN_name.down.sql)",
                                       path=path)
        version, slug, direction = match.groups()
        parsed.append((version, slug, direction == "up", path))
    ups, downs = _pair_up_down(parsed, ("up", "down"), "down file without an up file")
    return _up_down_file_sets(ups, downs, "golang-migrate")


def _up_down_file_sets(ups: dict[str, tuple[str, Path]], downs: dict[str, Path],
                       source_format: str, placeholders: dict | None = None) -> list[MigrationSet]:
    """Sets of a format that keeps each version's up and down SQL in two files (golang-migrate, Flyway).

    With placeholders (Flyway), ${name} is replaced in the SQL; the checksum stays the files' own, as written.
    """
    sets = []
    for version, (slug, up_path) in ups.items():
        down_path = downs.get(version)
        up_sql = _read(up_path)
        _require_sql(up_sql, up_path, version)
        hashed = [(up_path.name, up_sql.encode())]
        down_sql: str | None = None
        if down_path:
            down_sql = _read(down_path)
            hashed.append((down_path.name, down_sql.encode()))
        if placeholders is not None:
            up_sql = replace_placeholders(up_sql, placeholders, up_path, version)
            if down_sql is not None and down_path is not None:
                down_sql = replace_placeholders(down_sql, placeholders, down_path, version)
        part = _adopted_part(up_sql, down_sql, up_path, down_path, hashed, source_format)
        sets.append(MigrationSet(version=version, slug=slug, path=up_path, manifest=Manifest(description=slug),
                                 postgres=part, source_format=source_format))
    return sets


def _flyway_repeatable(path: Path, description: str, placeholders: dict) -> MigrationSet:
    """R__name.sql: a set keyed R__name, after every version, applied again whenever what it runs changes."""
    version = REPEATABLE_PREFIX + description
    text = _read(path)
    _require_sql(text, path, version)
    sql = replace_placeholders(text, placeholders, path, version)
    # What it runs is hashed too: a changed placeholder value re-applies it, as a changed file does.
    part = _adopted_part(sql, None, path, None, [(path.name, text.encode()), ("resolved", sql.encode())], "flyway")
    return MigrationSet(version=version, slug=description, path=path, manifest=Manifest(description=description),
                        postgres=part, source_format="flyway")


def _flyway_sets(files: list[Path], placeholders: dict | None = None) -> list[MigrationSet]:
    parsed = []
    repeatables = []
    for path in files:
        repeatable = FLYWAY_REPEATABLE.match(path.name)
        if repeatable:
            repeatables.append((path, repeatable.group(1)))
            continue
        match = FLYWAY_FILE.match(path.name)
        if not match:
            raise MigrationFormatError("not a Flyway file name (V1__name.sql / U1__name.sql / R__name.sql)",
                                       path=path)
        prefix, raw_version, slug = match.groups()
        # Flyway reads V1_1 as version 1.1; we report it the way Flyway does.
        parsed.append((raw_version.replace("_", "."), slug, prefix == "V", path))
    ups, undos = _pair_up_down(parsed, ("V", "U"), "undo (U) file without a versioned (V) file")
    values = dict(placeholders or {})
    return (_up_down_file_sets(ups, undos, "flyway", values)
            + [_flyway_repeatable(path, description, values) for path, description in repeatables])


def _dbmate_sets(files: list[Path]) -> list[MigrationSet]:
    sets = []
    for path in files:
        match = DBMATE_FILE.match(path.name)
        if not match:
            raise MigrationFormatError("not a dbmate file name (YYYYMMDDHHMMSS_name.sql)", path=path)
        version, slug = match.groups()
        text = _read(path)
        markers = list(DBMATE_MARKER.finditer(text))
        kinds = [m.group(1) for m in markers]
        if kinds.count("up") != 1 or kinds.count("down") > 1:
            raise MigrationFormatError("a dbmate file needs exactly one '-- migrate:up' and at most one "
                                       "'-- migrate:down' line", version=version, path=path)
        sections: dict[str, tuple[str, str]] = {}
        for i, marker in enumerate(markers):
            end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
            sections[marker.group(1)] = (text[marker.end():end], marker.group(2))
        up_sql, up_opts = sections["up"]
        _require_sql(up_sql, path, version)
        transaction = "false" if re.search(r"\btransaction:\s*false\b", up_opts) else "auto"
        down_sql = None
        if "down" in sections and _has_sql(sections["down"][0]):
            # An empty down section is what `dbmate new` writes: we read it as "no down written" (irreversible).
            down_sql = sections["down"][0]
        part = _adopted_part(up_sql, down_sql, path, path if down_sql is not None else None,
                             [(path.name, text.encode())], "dbmate", PostgresOptions(transaction=transaction))
        sets.append(MigrationSet(version=version, slug=slug, path=path, manifest=Manifest(description=slug),
                                 postgres=part, source_format="dbmate"))
    return sets


# sqitch.conf settings that move the plan or the scripts away from Sqitch's default layout (not followed here).
SQITCH_LAYOUT_KEYS = re.compile(r"^\s*(top_dir|plan_file|deploy_dir|revert_dir|verify_dir|reworked_dir|"
                                r"reworked_deploy_dir|reworked_revert_dir|reworked_verify_dir|extension)\s*=",
                                re.MULTILINE | re.IGNORECASE)


def _sqitch_scripts(root: Path, real_root: Path) -> dict[str, Path]:
    """Every .sql file under deploy/, revert/ and verify/ by its path relative to the project ('deploy/a/b.sql'),
    listed through _scan; a directory reached twice through links is listed once."""
    found: dict[str, Path] = {}
    seen: set[Path] = set()
    pending = [(root / name, name) for name in SQITCH_SCRIPT_DIRS if (root / name).is_dir()]
    while pending:
        directory, relative = pending.pop()
        if directory.resolve() in seen:
            continue
        seen.add(directory.resolve())
        for entry in _scan(directory, real_root):
            if entry.is_dir():
                pending.append((Path(entry.path), f"{relative}/{entry.name}"))
            elif entry.name.endswith(".sql") and entry.is_file():
                found[f"{relative}/{entry.name}"] = Path(entry.path)
    return found


def _sqitch_layout(root: Path, dir_names: list[str]) -> None:
    """Sqitch's default layout only: sqitch.plan with deploy/, revert/ and verify/ beside it, no other format."""
    stray = [name for name in dir_names if NATIVE_DIR.match(name)]
    if stray:
        raise MigrationFormatError(f"holds sqitch.plan and set directories ({stray[0]}): keep one format per "
                                   "migrations directory", path=root)
    conf = root / "sqitch.conf"
    if conf.is_file():
        moved = SQITCH_LAYOUT_KEYS.search(_read(conf))
        if moved:
            raise MigrationFormatError(f"sets {moved.group(1)}: only Sqitch's default layout is read (sqitch.plan, "
                                       "deploy/, revert/, verify/ in the migrations directory)", path=conf)


def _sqitch_sets(root: Path, real_root: Path, dir_names: list[str]) -> list[MigrationSet]:
    _sqitch_layout(root, dir_names)
    plan_path = root / SQITCH_PLAN
    plan = parse_plan(_read(plan_path), plan_path)
    scripts = _sqitch_scripts(root, real_root)
    return [_sqitch_set(plan, change, scripts) for change in plan.changes]


def _sqitch_set(plan: SqitchPlan, change: SqitchChange, scripts: dict[str, Path]) -> MigrationSet:
    """One Sqitch change as a set: deploy is up, revert is down, verify is a script that raises when wrong."""
    version = change.version
    stem = script_stem(change, set(scripts))
    if stem is None:
        expected = f"deploy/{change.name}{'@' + change.rework_tags[0] if change.is_reworked else ''}.sql"
        raise MigrationFormatError(f"change {change.name!r} (line {change.line}) has no deploy script {expected}",
                                   version=version, path=plan.path)
    paths = {d: scripts.get(f"{d}/{stem}.sql") for d in SQITCH_SCRIPT_DIRS}
    texts = {d: _read(p) for d, p in paths.items() if p is not None}
    up_path = scripts[f"deploy/{stem}.sql"]
    _require_sql(texts["deploy"], up_path, version)
    down_sql = texts.get("revert")
    verify_sql = texts.get("verify")
    part = PostgresPart(
        up_sql=texts["deploy"],
        down_sql=down_sql if down_sql is not None and _has_sql(down_sql) else None,
        verify_sql=verify_sql if verify_sql is not None and _has_sql(verify_sql) else None,
        up_path=up_path, down_path=paths["revert"], verify_path=paths["verify"], options=PostgresOptions(),
        backfill=(), checksum=part_checksum([(f"{d}/{stem}.sql", texts[d].encode()) for d in texts]),
        source_format="sqitch")
    # The plan is the sets' manifest: dependency errors point at it.
    manifest = Manifest(description=change.note or change.name, depends_on=plan.depends_on(change), path=plan.path)
    return MigrationSet(version=version, slug=change.name, path=up_path, manifest=manifest, postgres=part,
                        source_format="sqitch")


def _listing(directory: Path, root: Path | None = None) -> tuple[list[str], list[str]]:
    """(sub-directory names, .sql file names) of a migrations directory, sorted, hidden ones left out."""
    dirs, sql_files = [], []
    for entry in _scan(directory, root or directory.resolve()):
        if entry.is_dir():
            if not entry.name.startswith("_"):
                dirs.append(entry.name)
        elif entry.name.endswith(".sql") and entry.is_file():
            sql_files.append(entry.name)
    return dirs, sql_files


def detect_format(directory: Path, listing: tuple[list[str], list[str]] | None = None) -> str:
    """native | golang-migrate | flyway | dbmate | sqitch | empty."""
    dir_names, file_names = listing or _listing(directory)
    if (directory / SQITCH_PLAN).is_file():
        return "sqitch"
    dirs = [directory / name for name in dir_names]
    sql_files = [directory / name for name in file_names]
    if dirs and sql_files:
        raise MigrationFormatError(
            "mixes set directories and loose .sql files: keep one format per migrations directory", path=directory)
    if dirs:
        return "native"
    if not sql_files:
        return "empty"
    if any(f.name.endswith((".up.sql", ".down.sql")) for f in sql_files):
        return "golang-migrate"
    if any(FLYWAY_FILE.match(f.name) or FLYWAY_REPEATABLE.match(f.name) for f in sql_files):
        return "flyway"
    if any(DBMATE_MARKER.search(_read(f)) for f in sql_files):
        return "dbmate"
    raise MigrationFormatError(
        "cannot tell the migration format: expected <version>_<slug>/ set directories, golang-migrate "
        "(NNN_name.up.sql), Flyway (V1__name.sql) or dbmate files (-- migrate:up)", path=directory)


def discover(directory: str | Path, placeholders: dict | None = None) -> tuple[str, list[MigrationSet]]:
    """The format of a migrations directory and its sets in natural version order (placeholders: Flyway's)."""
    root = Path(directory)
    if not root.is_dir():
        raise MigrationFormatError("migrations directory does not exist or is not a directory", path=root)
    real_root = root.resolve()
    listing = _listing(root, real_root)
    fmt = detect_format(root, listing)
    if fmt == "empty":
        return fmt, []
    if fmt == "native":
        sets = []
        for entry in (root / name for name in listing[0]):
            sets.append(_native_set(entry, real_root))
        return fmt, _check_versions(sets)
    if fmt == "sqitch":
        return fmt, _check_versions(_sqitch_sets(root, real_root, listing[0]))
    files = [root / name for name in listing[1]]
    if fmt == "flyway":
        return fmt, _check_versions(_flyway_sets(files, placeholders))
    builders = {"golang-migrate": _golang_sets, "dbmate": _dbmate_sets}
    return fmt, _check_versions(builders[fmt](files))

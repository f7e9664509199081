"""Installs the third-party tools a benchmark compares against, only when missing.

Debian packages go through apt-get (they are benchmark-only, so they are not in the Makefile's APT_PACKAGES);
npm packages go under bench/.tools (git-ignored), never globally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.support.repo_paths import TOOLS_DIR


def _installed(package: str) -> bool:
    return subprocess.run(["dpkg", "-s", package], capture_output=True, check=False).returncode == 0


def ensure_debian_packages(packages: list[str]) -> None:
    missing = [package for package in packages if not _installed(package)]
    if not missing:
        return
    print(f"installing Debian packages: {' '.join(missing)}", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def ensure_npm_binary(package: str, version: str, binary: str) -> Path:
    """``npm install package@version`` under bench/.tools; returns the path of its binary."""
    path = TOOLS_DIR / "node_modules" / ".bin" / binary
    marker = TOOLS_DIR / f".{package}-{version}"
    if path.exists() and marker.exists():
        return path
    if shutil.which("npm") is None:
        raise SystemExit(f"npm is needed to install {package}: apt-get install -y npm")
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"installing npm {package}@{version} into {TOOLS_DIR}", flush=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(TOOLS_DIR),
                    f"{package}@{version}"], check=True)
    marker.touch()
    return path

#!/usr/bin/env bash
# ansible-test sanity on a clean copy of the collection: the files git tracks plus the untracked ones that are
# not ignored, laid out as build/sanity/ansible_collections/sevenp/dbops (ansible-test wants that path and
# would otherwise scan the virtualenv, reports and demo data too).
#
#   tests/sanity/run.sh [extra ansible-test options, e.g. --test validate-modules]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PYTHON_VERSION="${DBOPS_SANITY_PYTHON:-3.12}"
DEST="$ROOT/build/sanity/ansible_collections/sevenp/dbops"
export PATH="$VENV_BIN:$PATH"

# ansible-test bootstraps pip in each of its virtualenvs with a get-pip script it downloads from a host that is
# not always reachable. A stand-in that installs pip with the interpreter's own ensurepip does the same job.
pip_version="$("$VENV_BIN/python" - <<'PY'
import pathlib, re
import ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
match = re.search(r"pip='([0-9.]+)'", source.read_text())
print(match.group(1) if match else "25.2")
PY
)"
cache_dir="$HOME/.ansible/test/cache"
stand_in="$cache_dir/get_pip_${pip_version//./_}.py"
if [ ! -s "$stand_in" ] || ! grep -q "sevenp.dbops get-pip stand-in" "$stand_in"; then
  if [ -s "$stand_in" ]; then
    echo "using the existing $stand_in"
  else
    mkdir -p "$cache_dir"
    cat > "$stand_in" <<'PY'
# sevenp.dbops get-pip stand-in: installs pip with ensurepip (the get-pip download host may be unreachable).
# ansible-test runs it as: python get_pip.py [pip options] [packages]; the options do not matter to ensurepip.
import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"]))
PY
  fi
fi

# One run at a time: two runs would delete each other's copy.
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/sanity.lock"
flock 9

# A fresh copy each time, so files deleted from the repository do not linger.
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$ROOT"
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' path; do [ -f "$path" ] && printf '%s\0' "$path"; done \
  | tar --null -T - -cf - \
  | tar -xf - -C "$DEST"

cd "$DEST"
# The copy sits inside this repository's (ignored) build/ directory: a repository of its own stops ansible-test
# from asking the outer one which files exist (it would answer "none": build/ is ignored).
git init -q .
# Every test that runs without containers or network runs here; nothing is skipped.
ansible-test sanity --venv --python "$PYTHON_VERSION" --color no "$@"

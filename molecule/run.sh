#!/usr/bin/env bash
# The molecule scenario(s) of the collection, without Docker or Galaxy (delegated driver on this machine).
# `molecule reset` first: molecule skips create/prepare when its state says they already ran.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_PYTHON_INTERPRETER="$ROOT/.venv/bin/python"
# The collection as ansible_collections/sevenp/dbops (make link does the same).
mkdir -p build/ansible_collections/sevenp
[ -e build/ansible_collections/sevenp/dbops ] || ln -sfn ../../.. build/ansible_collections/sevenp/dbops
for scenario in "${@:-default}"; do
  molecule reset -s "$scenario"
  molecule test -s "$scenario"
done

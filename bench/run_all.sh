#!/usr/bin/env bash
# Runs every benchmark of bench/ once (`make bench`); not part of `make test`.
# Extra flags: BENCH_APPLY_ARGS="--repeat 5" BENCH_BACKFILL_ARGS="--rows 1000000" make bench
# BENCH_BACKUP_RESTORE_ARGS="--scale 70 --wal-mb 500"
# Each benchmark prints its table; a copy of the output goes to bench/results/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
# shellcheck disable=SC2086  # the *_ARGS variables are lists of flags
"$PY" -m bench.apply ${BENCH_APPLY_ARGS:-} 2>&1 | tee "bench/results/apply-$stamp.txt"
# shellcheck disable=SC2086
"$PY" -m bench.backfill ${BENCH_BACKFILL_ARGS:-} 2>&1 | tee "bench/results/backfill-$stamp.txt"
# shellcheck disable=SC2086
"$PY" -m bench.backup_restore ${BENCH_BACKUP_RESTORE_ARGS:-} 2>&1 | tee "bench/results/backup_restore-$stamp.txt"

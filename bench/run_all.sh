#!/usr/bin/env bash
# Runs every benchmark in bench/ once (`make bench`): each bench/<name>/ with a __main__.py, in name order.
# Not part of `make test`. Flags for one benchmark go in BENCH_<NAME>_ARGS (the directory's name in capitals), e.g.
#   BENCH_APPLY_ARGS="--repeat 5" BENCH_BACKFILL_ARGS="--rows 1000000" BENCH_ONLINE_CHANGE_ARGS="--rows 1000000" make bench
#   BENCH_CUTOVER_ARGS="--repeat 3" make bench      (bench/cutover: the blue-green switch, ours against the manual one)
# Each benchmark prints its table; a copy of the output goes to bench/results/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
status=0
for main in bench/*/__main__.py; do
  name=$(basename "$(dirname "$main")")
  args_var="BENCH_${name^^}_ARGS"
  echo "=== bench/$name ==="
  # shellcheck disable=SC2086  # the *_ARGS variables are lists of flags
  if ! "$PY" -m "bench.$name" ${!args_var:-} 2>&1 | tee "bench/results/$name-$stamp.txt"; then
    echo "bench/$name FAILED" >&2
    status=1
  fi
done
exit $status

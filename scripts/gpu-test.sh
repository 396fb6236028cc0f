#!/usr/bin/env bash
# Runs every test binary of a bundle (scripts/gpu-bundle.sh) on the GPU machine, without ctest, and prints a
# short pass/fail table last.   build/bundle/gpu-test.sh [FILTER_REGEX]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export QLA_CACHE_DIR=${QLA_CACHE_DIR:-/tmp/qla-cache}
filter=${1:-.}
declare -a rows
status=0
for t in "$here"/bin/*_test; do
  name=$(basename "$t")
  [[ $name =~ $filter ]] || continue
  start=$(date +%s)
  log=$("$t" --gtest_brief=1 2>&1)
  rc=$?
  secs=$(( $(date +%s) - start ))
  echo "=== $name (rc $rc, ${secs}s)"
  echo "$log" | tail -25
  passed=$(echo "$log" | grep -oE '\[  PASSED  \] [0-9]+' | grep -oE '[0-9]+$' || true)
  # One "[  FAILED  ] Suite.Test (N ms)" line per failed test (the summary line differs with --gtest_brief).
  failed=$(echo "$log" | grep -cE '^\[  FAILED  \] [^ ]+ \(' || true)
  skipped=$(echo "$log" | grep -oE '\[  SKIPPED \] [0-9]+' | grep -oE '[0-9]+$' || true)
  rows+=("$(printf '%-28s %-4s %6s %6s %7s %5ss' "$name" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" \
    "${passed:-0}" "${failed:-0}" "${skipped:-0}" "$secs")")
  [[ $rc == 0 ]] || status=1
done
echo
printf '%-28s %-4s %6s %6s %7s %6s\n' test result passed failed skipped time
printf '%s\n' "${rows[@]}"
exit $status

#!/usr/bin/env bash
# Runs every test binary of a bundle (scripts/gpu-bundle.sh) on the GPU machine, without ctest, and prints a
# short pass/fail table last.   build/bundle/gpu-test.sh [FILTER_REGEX]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export QLA_CACHE_DIR=${QLA_CACHE_DIR:-/tmp/qla-cache}
filter=${1:-.}
# The correctness record (tests/common/validation_record.hpp): the GPU suites append JSON lines, which become
# $OUT/validation.json (schema qla.validation.v1) at the end; copy it to results/<gpu>/ for `qla report`.
if [[ -n ${OUT:-} ]]; then
  export QLA_VALIDATION_RECORD=$OUT/validation.jsonl
  rm -f "$QLA_VALIDATION_RECORD"
fi
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
if [[ -n ${QLA_VALIDATION_RECORD:-} && -s $QLA_VALIDATION_RECORD ]]; then
  python3 - "$QLA_VALIDATION_RECORD" "$OUT/validation.json" "$(cat "$here/GIT_COMMIT" 2>/dev/null)" <<'EOF'
import datetime, json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
doc = dict(schema="qla.validation.v1", date=datetime.date.today().isoformat(), git_commit=sys.argv[3],
           device=dict(name=rows[0]["card"]), bar=0.005,
           method="relative Frobenius error against a float64 token recurrence, NaN-poisoned outputs, "
                  "bit-identical reruns asserted by the same tests",
           rows=rows)
open(sys.argv[2], "w").write(json.dumps(doc, indent=1) + "\n")
print(f"validation record: {len(rows)} rows -> {sys.argv[2]}")
EOF
fi
echo
printf '%-28s %-4s %6s %6s %7s %6s\n' test result passed failed skipped time
printf '%s\n' "${rows[@]}"
exit $status

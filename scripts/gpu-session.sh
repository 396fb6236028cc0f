#!/usr/bin/env bash
# One device call: the GPU tests of a bundle, the deploy example, then a smoke tune. Logs go to $OUT.
#   scripts/gpu-session.sh [tests|tune|all]
set -uo pipefail
cd "$(dirname "$0")/.."
B=$PWD/build/bundle
export LD_LIBRARY_PATH="$B/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export QLA_CACHE_DIR=${QLA_CACHE_DIR:-/tmp/qla-cache}
OUT=${OUT:-/tmp/qla-out}
mkdir -p "$OUT"
# Tests built here bake in the build paths of their helper binaries; point those at the bundle.
for d in "$(cd "$(dirname "$0")/.." && pwd)" /work/main; do
  mkdir -p "$d/build/ci/bench" && ln -sf "$B/bin/qla" "$d/build/ci/qla" &&
    ln -sf "$B/bin/bench_gdn_fwd" "$d/build/ci/bench/bench_gdn_fwd"
done
what=${1:-all}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
if [[ $what == tests || $what == all ]]; then
  timeout 420 "$B/gpu-test.sh" 2>&1 | tee "$OUT/gpu-tests.log" | grep -E "^===|FAILED|Failure|error" | head -80
  timeout 120 "$B/bin/qla_deploy_example" > "$OUT/deploy.log" 2>&1; echo "deploy_example rc=$?"; tail -5 "$OUT/deploy.log"
fi
if [[ $what == tune || $what == all ]]; then
  timeout 300 "$B/bin/qla" tune --suite smoke --budget 12 --db "$OUT/smoke.sqlite" 2>&1 | tail -30
fi
tail -20 "$OUT/gpu-tests.log" 2>/dev/null

#!/usr/bin/env bash
# Runs the benchmarks on the GPU machine, from a bundle (scripts/gpu-bundle.sh), in the repository root:
# bench_gdn_fwd (qla tuned/default, unfused, naive; graph and cold modes), bench/fla_bench.py (FLA's Triton
# forward, installed from .whl/ when the wheels were carried) and bench/flashqla_bench.py (FlashQLA, from a carried
# package tarball, --peers) on the same shapes and the same inputs. Both
# qla.bench.v1 JSONs, Google Benchmark's JSON and the logs go to $OUT (or results/bench-run/); a short table of
# the graph-mode times is printed last.
#
#   scripts/bench-gpu.sh [--heads headline|all|2x8,...] [--seqs headline|all|1x8192,...]
#                        [--only qla,fla,flashqla] [--db STORE] [--fla-order both|warm2048|own]
#                        [--peers PEERS.tar.xz] [--peer-cache DIR] [-- extra bench_gdn_fwd flags]
# --peers: the baselines' packages unpacked into one folder and xz-compressed (FLA and FlashQLA with TileLang);
# unpacked to /tmp/peer-site and put on PYTHONPATH. FlashQLA runs when it is importable.
# --peer-cache: the baselines' compile caches live in DIR across runs (DIR/triton: FLA's Triton caches per head
# configuration and order, with its autotune choices; DIR/tilelang: FlashQLA's TileLang kernels), so a later run
# on the same card skips FLA's autotuning and TileLang's compiles. Default: fresh caches every run.
#
# Device call:  carry ["build/bundle", ".whl"], command "scripts/bench-gpu.sh --heads headline".
# Both benches together may outrun one 10-minute call on the full headline set: split with --only, a
# comma list of the benches to run (qla with each peer keeps the ratios from one call: --only qla,flashqla).
set -uo pipefail
cd "$(dirname "$0")/.."
heads=headline
seqs=headline
only=all
fla_order=both
peers=
peer_cache=
db=
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --heads) heads=$2; shift 2 ;;
    --seqs) seqs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --fla-order) fla_order=$2; shift 2 ;;
    --peers) peers=$2; shift 2 ;;
    --peer-cache) peer_cache=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench-gpu.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $only =~ ^(all|(qla|fla|flashqla)(,(qla|fla|flashqla))*)$ ]] || {
  echo "bench-gpu.sh: --only takes a comma list of qla, fla and flashqla" >&2; exit 2; }
wants() { [[ $only == all || ,$only, == *,$1,* ]]; }

bundle=${QLA_BUNDLE:-build/bundle}
out=${OUT:-results/bench-run}
mkdir -p "$out"
bundle=$(cd "$bundle" 2>/dev/null && pwd || echo "$bundle")
export LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export QLA_CACHE_DIR=${QLA_CACHE_DIR:-/tmp/qla-cache}
export PYTHONUNBUFFERED=1
# The commit the bundle was built from (scripts/gpu-bundle.sh records it; the GPU machine has no .git).
if [[ -z ${QLA_GIT_COMMIT:-} && -f $bundle/GIT_COMMIT ]]; then
  export QLA_GIT_COMMIT=$(cat "$bundle/GIT_COMMIT")
fi
[[ -x $bundle/bin/bench_gdn_fwd && -x $bundle/bin/qla ]] || {
  echo "bench-gpu.sh: $bundle/bin lacks bench_gdn_fwd or qla: run scripts/gpu-bundle.sh first and carry it" >&2
  exit 2
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader || true

status=0
if wants qla; then
  args=(--heads "$heads" --seqs "$seqs" --qla_out "$out/bench_qla.json"
        --benchmark_out="$out/bench_gbench.json" --benchmark_out_format=json)
  [[ -n $db ]] && args+=(--db "$db")
  echo "=== bench_gdn_fwd ${args[*]} ${extra[*]}"
  "$bundle/bin/bench_gdn_fwd" "${args[@]}" "${extra[@]}" 2>&1 | tee "$out/bench_qla.log"
  rc=${PIPESTATUS[0]}
  [[ $rc == 0 ]] || { echo "bench-gpu.sh: bench_gdn_fwd exited $rc"; status=1; }
fi

if [[ -n $peers ]]; then
  echo "=== unpacking $peers"
  tar -xJf "$peers" -C /tmp && export PYTHONPATH=/tmp/peer-site${PYTHONPATH:+:$PYTHONPATH}
fi
fla_cache=()
if [[ -n $peer_cache ]]; then
  mkdir -p "$peer_cache/triton" "$peer_cache/tilelang"
  peer_cache=$(cd "$peer_cache" && pwd)
  export TILELANG_CACHE_DIR=$peer_cache/tilelang
  fla_cache=(--cache-dir "$peer_cache/triton")
  echo "=== peer compile caches in $peer_cache: $(find "$peer_cache" -name '*.autotune.json' | wc -l) FLA autotune" \
    "results, $(du -sh "$peer_cache/tilelang" | cut -f1) of TileLang kernels"
fi

if wants fla; then
  shopt -s nullglob
  wheels=(.whl/*.whl)
  if (( ${#wheels[@]} )); then
    echo "=== installing ${#wheels[@]} wheels from .whl/"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "${wheels[@]}" && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  echo "=== fla_bench.py --heads $heads --seqs $seqs"
  python3 bench/fla_bench.py --qla "$bundle/bin/qla" --heads "$heads" --seqs "$seqs" --order "$fla_order" \
    "${fla_cache[@]}" --out "$out/bench_fla.json" 2>&1 | tee "$out/bench_fla.log"
  rc=${PIPESTATUS[0]}
  [[ $rc == 0 ]] || { echo "bench-gpu.sh: fla_bench.py exited $rc"; status=1; }
fi

if wants flashqla && python3 -c "import flash_qla" 2>/dev/null; then
  echo "=== flashqla_bench.py --heads $heads --seqs $seqs"
  python3 bench/flashqla_bench.py --qla "$bundle/bin/qla" --heads "$heads" --seqs "$seqs" \
    --out "$out/bench_flashqla.json" 2>&1 | tee "$out/bench_flashqla.log"
  rc=${PIPESTATUS[0]}
  [[ $rc == 0 ]] || { echo "bench-gpu.sh: flashqla_bench.py exited $rc"; status=1; }
elif [[ $only != all ]] && wants flashqla; then
  echo "bench-gpu.sh: FlashQLA is not importable (carry its packages with --peers)"; status=1
else
  echo "=== flashqla_bench.py skipped: FlashQLA is not importable here (carry its packages with --peers)"
fi

# The short table: graph-mode times per shape, and our speedup over FLA and FlashQLA where both exist.
python3 - "$out/bench_qla.json" "$out/bench_fla.json" "$out/bench_flashqla.json" <<'EOF'
import json, os, sys
times, skipped = {}, []
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    doc = json.load(open(path))
    for r in doc.get("rows", []):
        if r.get("mode", "graph") != "graph":
            continue
        key = (r["h_qk"], r["h_v"], tuple(r["seqlens"]))
        times.setdefault(key, {})[r.get("implementation", doc.get("implementation"))] = r["ms"]
    skipped += doc.get("skipped", [])
    if "ceilings" in doc:
        c = doc["ceilings"]
        print(f"card {doc['device']['name']}: copy {c['copy_gbps']:.0f} GB/s, matmul {c['matmul_tflops']:.0f} TFLOP/s")
def name(seqlens):
    if len(set(seqlens)) == 1:
        return f"1x{seqlens[0]}" if len(seqlens) == 1 else f"{seqlens[0]}x{len(seqlens)}"
    return "+".join(map(str, seqlens))
impls = ["qla-tuned", "qla-default", "unfused", "naive", "fla", "flashqla"]
extra = sorted({i for t in times.values() for i in t} - set(impls))  # e.g. qla:gdn.fused_fwd_wgmma
impls = impls[:2] + extra + impls[2:]
print(f"\n{'heads':<7}{'seqs':<13}" + "".join(f"{i[-12:]:>13}" for i in impls)
      + f"{'xFLA':>8}{'xFQLA':>8}   (graph mode, ms)")
for (hq, hv, sl), t in sorted(times.items()):
    ours = t.get("qla-tuned", t.get("qla-default"))
    ratio = lambda base: f"{t[base] / ours:.2f}x" if ours and base in t else "-"
    print(f"{f'{hq}/{hv}':<7}{name(list(sl)):<13}" + "".join(f"{t[i]:>13.4f}" if i in t else f"{'-':>13}" for i in impls)
          + f"{ratio('fla'):>8}{ratio('flashqla'):>8}")
if skipped:
    reasons = {}
    for s in skipped:
        reasons.setdefault(f"{s['implementation']}: {s['reason']}", []).append(s["name"])
    print(f"\nskipped ({len(skipped)}):")
    for reason, names in reasons.items():
        print(f"  {reason} [{len(names)} shapes]")
EOF
exit $status

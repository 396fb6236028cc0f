#!/usr/bin/env bash
# One device call of a GPU session, from a bundle (scripts/gpu-bundle.sh) carried as build/bundle or as a
# tarball ($QLA_BUNDLE_TAR, e.g. build/s3a.tar.xz). Logs and results go to $OUT.
#   scripts/gpu-session.sh tests    the GPU suites (validation record -> $OUT/validation.json), the deploy example
#   scripts/gpu-session.sh tune     resume tuning the headline suite (or $QLA_TUNE_SUITE) into $OUT/<store> (from
#                                   results/<store>: carry it back in the next call; the tuner re-measures nothing;
#                                   a store over 15 MiB comes back as <store>.xz, and resumes from results/<store>.xz)
#   scripts/gpu-session.sh bench    qla tuned/default + FLA (.whl) + FlashQLA ($QLA_PEERS tarball) in one call;
#                                   the peers' compile caches (FLA's autotune choices, FlashQLA's TileLang
#                                   kernels) come back as $OUT/peer-cache.tar.xz: carry it as $QLA_PEER_CACHE in
#                                   the next bench call (it grows by each call's head configurations) to skip
#                                   their tuning and compiles; the logs come back as $OUT/bench-logs.tar.xz
#   scripts/gpu-session.sh profile  the wgmma chunk forward's cycles per phase (qla_chunk_step_profile) on
#                                   2/8, 16/64 1x32768 and 2/8 1x2048 -> $OUT/profile.txt and the record
#                                   $OUT/chunk_step.json (copy it to results/<gpu>/ for `qla report`); then
#                                   kkt_solve's (qla_kkt_solve_profile) at 16/64 1x32768, 2/8 1x2048 -> $OUT/kkt_profile.txt
#                                   and the CP correction's step (qla_cp_correct_profile) -> $OUT/cp_correct_profile.txt
#   scripts/gpu-session.sh ab       qla alone once per variant of $QLA_AB (';'-separated flag sets for bench_gdn_fwd,
#                                   e.g. "--config gdn.cp_correct=bv8.ms1.sk4.rt1;--config gdn.cp_correct=bv8.ms1.sk1.rt4")
#                                   or of $QLA_AB_BUNDLES (';'-separated bundle tarballs: code before and after a
#                                   change; carry the kernel cache of both), then a side-by-side table ($OUT/ab.md;
#                                   QLA_AB_KERNEL adds one kernel's time per call; QLA_BENCH_HEADS, QLA_AB_SEQS,
#                                   QLA_AB_IMPLS, QLA_BENCH_MODES pick the rows)
#   scripts/gpu-session.sh profile-ab  the chunk-step and CP-correction profiles (as profile) of each bundle of
#                                   $QLA_AB_BUNDLES (';'-separated tarballs, e.g. the code before and after a kernel
#                                   change) -> $OUT/profile_A.txt, profile_B.txt, … and the steps side by side
#                                   ($OUT/profile_ab.md), each one's state and aux phases ($OUT/profile_ab_phases.md)
#   scripts/gpu-session.sh ncu      Nsight Compute's counters (speed of light, occupancy, scheduler, warp stalls,
#                                   memory, shared-memory bank conflicts) for one launch of the kernels matching
#                                   $QLA_NCU_KERNEL (a regex, default kkt_solve) in an untuned op call of
#                                   bench_gdn_fwd at $QLA_BENCH_HEADS x $QLA_AB_SEQS (default 16x64 x 8192x4)
#                                   -> $OUT/ncu.txt, stopped after $QLA_NCU_SECONDS (default 420)
#   scripts/gpu-session.sh sanitize compute-sanitizer memcheck, racecheck and synccheck over the GPU tests
#                                   $QLA_SANITIZE_FILTER of $QLA_SANITIZE_BINARY (default Cp.* of small_kernels_test:
#                                   the CP warm-up and every cp_correct config; e.g. KktSolve.* of kkt_solve_test)
#   scripts/gpu-session.sh repeat   the 2/8 and 16/64 1x8192 headline problems (--problem 8192@2x8 and 8192@16x64)
#                                   tuned twice, the same command into two fresh stores $OUT/repeat_a.sqlite and
#                                   $OUT/repeat_b.sqlite, then `qla db compare` of the two -> $OUT/repeatability.json
#                                   (copy the stores to results/<gpu>/repeatability/a.sqlite and b.sqlite beside it)
# Environment: QLA_STORE (default nvidia-h200.sqlite), QLA_TUNE_SECONDS (default 480), QLA_TUNE_BUDGET
# (`qla tune --budget`, default 8), QLA_TUNE_SUITE (`qla tune --suite`, default headline), QLA_PEERS, QLA_KERNEL_CACHE_TAR (the NVRTC cache compiled ahead by
# gpu-bundle.sh --kernel-cache; tests and tune then compile nothing),
# QLA_BENCH_ONLY (a comma list of qla, fla and flashqla, e.g. qla,flashqla), QLA_BENCH_HEADS (e.g. 2x8,4x16;
# default headline), QLA_BENCH_SEQS (sequence sets: headline, all (FlashQLA's 19) or names like 1x4096,2048x4;
# default headline), QLA_BENCH_MODES (graph, cold or graph,cold; default graph): what fits one 10-minute call;
# QLA_BENCH_LISTS (bench_gdn_fwd --lists: build, the default, or prepared: qla's work lists built once per plan
# outside the timed calls, as FlashQLA's CP context is).
# All three benches on the 20 headline shapes take four calls: QLA_BENCH_HEADS=2x8,4x16, then 8x32, 16x32, 16x64.
# Several steps name one call: `scripts/gpu-session.sh tests tune`, or `tune bench` to bench what the tune
# finished (see below).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-/tmp/qla-out}
mkdir -p "$OUT"
# Several steps in one call (e.g. `gpu-session.sh tests tune`): each runs into $OUT/<step>, in order, whatever
# the one before returned; the steps after a tune (bench, ab) read the store it tuned. Then all of them go into
# $OUT/steps.tar.xz (the device tool brings back at most 8 files), beside copies of what the results take: the
# tuned store, the bench documents, the validation record, the A/B table and the chunk-step record.
if (( $# > 1 )); then
  rc=0
  for step in "$@"; do
    echo "== $step (at ${SECONDS} s)"
    OUT=$OUT/$step "$0" "$step" || rc=$?
    unset QLA_BUNDLE_TAR QLA_KERNEL_CACHE_TAR  # unpacked by the first step
    if [[ $step == tune ]]; then  # this copy of the tree's results/ takes the tuned store
      st=${QLA_STORE:-nvidia-h200.sqlite}
      if [[ -f $OUT/tune/$st ]]; then cp "$OUT/tune/$st" "results/$st" && rm -f "results/$st.xz"
      elif [[ -f $OUT/tune/$st.xz ]]; then xz -dc "$OUT/tune/$st.xz" > "results/$st" && rm -f "results/$st.xz"
      fi
    fi
  done
  (cd "$OUT" && tar -cJf steps.tar.xz "$@" &&
    for f in tune/"${QLA_STORE:-nvidia-h200.sqlite}" tune/"${QLA_STORE:-nvidia-h200.sqlite}".xz bench/bench_qla.json \
      bench/bench_fla.json bench/bench_flashqla.json bench/peer-cache.tar.xz tests/validation.json ab/ab.md \
      profile/chunk_step.json \
      profile-ab/profile_ab.md profile-ab/profile_ab_phases.md; do
      [[ -f $f ]] && cp "$f" .
    done
    rm -rf "$@")
  echo "steps: $* (rc $rc, ${SECONDS} s); $OUT/steps.tar.xz holds every step's output"
  exit $rc
fi
if [[ -n ${QLA_BUNDLE_TAR:-} ]]; then  # always the carried one: a warm machine keeps an older bundle
  rm -rf build/bundle && mkdir -p build && tar -xJf "$QLA_BUNDLE_TAR" -C build
fi
B=$PWD/build/bundle
[[ -x $B/bin/qla ]] || { echo "gpu-session.sh: no bundle (build/bundle or QLA_BUNDLE_TAR)" >&2; exit 2; }
export LD_LIBRARY_PATH="$B/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export QLA_CACHE_DIR=${QLA_CACHE_DIR:-/tmp/qla-cache}
if [[ -n ${QLA_KERNEL_CACHE_TAR:-} ]]; then  # compiled ahead (gpu-bundle.sh --kernel-cache sm_90a)
  mkdir -p "$QLA_CACHE_DIR" && tar -xJf "$QLA_KERNEL_CACHE_TAR" -C "$QLA_CACHE_DIR"
fi
export QLA_GIT_COMMIT=${QLA_GIT_COMMIT:-$(cat "$B/GIT_COMMIT" 2>/dev/null)}
# Tests built here bake in the build paths of their helper binaries; point those at the bundle.
mkdir -p build/ci/bench && ln -sf "$B/bin/qla" build/ci/qla && ln -sf "$B/bin/bench_gdn_fwd" build/ci/bench/bench_gdn_fwd
store=${QLA_STORE:-nvidia-h200.sqlite}
# A store carried compressed (results/<store>.xz: a tune's larger store, or the committed one compressed to fit a
# bench call's carry beside the peers) is what every step reads.
if [[ ! -f results/$store && -f results/$store.xz ]]; then xz -dc "results/$store.xz" > "results/$store"; fi
what=${1:-tests}
# Variant i's letter (A, B, …) and its bundle tarball unpacked into build/ab_bundle_i (for ab and profile-ab).
letter() { printf "\\x$(printf %x $((65 + $1)))"; }
unpack_variant() {
  rm -rf "build/ab_bundle_$1" && mkdir -p "build/ab_bundle_$1" && tar -xJf "$2" -C "build/ab_bundle_$1" ||
    { echo "variant $1: cannot unpack $2"; exit 1; }
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
case $what in
  tests)
    OUT=$OUT timeout 420 "$B/gpu-test.sh" > "$OUT/gpu-tests.log" 2>&1
    rc=$?
    timeout 60 "$B/bin/qla_deploy_example" > "$OUT/deploy.log" 2>&1
    echo "deploy_example rc=$?"
    grep -E "^\[  FAILED|Failure" "$OUT/gpu-tests.log" | head -30
    grep -E "validation record" "$OUT/gpu-tests.log"
    tail -16 "$OUT/gpu-tests.log"
    exit $rc ;;
  tune)
    if [[ -f results/$store ]]; then cp "results/$store" "$OUT/$store"
    elif [[ -f results/$store.xz ]]; then xz -dc "results/$store.xz" > "$OUT/$store"  # carried back compressed
    fi
    # SIGINT is the tuner's clean stop (the trial in flight is committed, the run is closed).
    timeout -s INT -k 60 "${QLA_TUNE_SECONDS:-480}" "$B/bin/qla" tune --suite "${QLA_TUNE_SUITE:-headline}" \
      --budget "${QLA_TUNE_BUDGET:-8}" \
      --db "$OUT/$store" > "$OUT/tune.log" 2>&1
    rc=$?
    tail -25 "$OUT/tune.log"
    if [[ $rc == 130 || $rc == 124 ]]; then
      echo "tune rc=$rc: stopped by the time limit; carry the store back and rerun to resume"
    else
      echo "tune rc=$rc"
    fi
    # A read-write open and close folds the WAL into the store file, so the one file carries everything.
    "$B/bin/qla" db prune --dry-run "$OUT/$store" > /dev/null
    rm -f "$OUT/$store-shm"
    "$B/bin/qla" db show "$OUT/$store" | tail -12
    # The device tool brings back files under 16 MiB: a larger store (unpruned, a large suite) comes back as
    # $store.xz; carry it as results/$store.xz to resume (pruning it instead would make the resume re-measure).
    if (( $(stat -c %s "$OUT/$store") > 15 * 1024 * 1024 )); then
      xz -T0 "$OUT/$store" && echo "tune: the store is larger than a call brings back: $OUT/$store.xz"
    fi ;;
  bench)
    args=(--heads "${QLA_BENCH_HEADS:-headline}" --seqs "${QLA_BENCH_SEQS:-headline}" --fla-order warm2048)
    [[ -f results/$store ]] && args+=(--db "results/$store")
    [[ -n ${QLA_PEERS:-} ]] && args+=(--peers "$QLA_PEERS")
    peer_cache=/tmp/peer-cache
    rm -rf "$peer_cache" && mkdir -p "$peer_cache"
    if [[ -n ${QLA_PEER_CACHE:-} && -f $QLA_PEER_CACHE ]]; then
      tar -xJf "$QLA_PEER_CACHE" -C "$peer_cache" || echo "gpu-session.sh: $QLA_PEER_CACHE did not unpack; fresh caches"
    fi
    args+=(--peer-cache "$peer_cache")
    QLA_BUNDLE=$B OUT=$OUT timeout 560 scripts/bench-gpu.sh "${args[@]}" ${QLA_BENCH_ONLY:+--only "$QLA_BENCH_ONLY"} \
      -- --impls qla-tuned,qla-default --modes "${QLA_BENCH_MODES:-graph}" ${QLA_BENCH_LISTS:+--lists "$QLA_BENCH_LISTS"} \
      > "$OUT/bench.log" 2>&1
    rc=$?
    tail -30 "$OUT/bench.log"
    # The device tool brings back 8 files: the three documents, the summary log, and two tarballs.
    (cd "$OUT" && tar -cJf bench-logs.tar.xz --remove-files bench_qla.log bench_fla.log bench_flashqla.log \
      bench_gbench.json 2>/dev/null)
    # FLA's autotune choices and TileLang's kernels; Triton's compiled kernels stay behind (large, and FLA
    # compiles its one chosen config per kernel in seconds). TileLang's too where the tarball would pass 12 MiB.
    (cd "$peer_cache" && find triton -name '*.autotune.json' 2>/dev/null > /tmp/peer-cache.list
     echo tilelang >> /tmp/peer-cache.list
     tar -cJf "$OUT/peer-cache.tar.xz" -T /tmp/peer-cache.list 2>/dev/null
     if (( $(stat -c %s "$OUT/peer-cache.tar.xz" 2>/dev/null || echo 0) > 12 * 1024 * 1024 )); then
       sed -i '/^tilelang$/d' /tmp/peer-cache.list && tar -cJf "$OUT/peer-cache.tar.xz" -T /tmp/peer-cache.list
       echo "gpu-session.sh: TileLang's cache left out of peer-cache.tar.xz (over 12 MiB)"
     fi)
    echo "peer-cache.tar.xz: $(du -h "$OUT/peer-cache.tar.xz" 2>/dev/null | cut -f1)" \
      "($(grep -c autotune /tmp/peer-cache.list) FLA autotune results)"
    exit $rc ;;
  profile)
    [[ -x $B/bin/qla_chunk_step_profile ]] || { echo "gpu-session.sh: the bundle has no qla_chunk_step_profile (built for sm_90a only)" >&2; exit 2; }
    for shape in "2 8 32768" "16 64 32768" "2 8 2048"; do
      read -r hqk hv tokens <<< "$shape"
      timeout 120 "$B/bin/qla_chunk_step_profile" --hqk "$hqk" --hv "$hv" --tokens "$tokens" \
        --json "$OUT/chunk_step.json" --state-pass || exit $?
    done > "$OUT/profile.txt" 2>&1
    rc=$?
    grep -E "stages|state " "$OUT/profile.txt"
    # kkt_solve's phases (prologue, the head's first barrier, warp-local inversions, merges, store) on a long
    # and a short sequence, and at GVA groups 1 and 2 (a value head or two a work item).
    for shape in "16 64 32768" "2 8 2048" "32 32 32768" "16 32 32768"; do
      read -r hqk hv tokens <<< "$shape"
      timeout 60 "$B/bin/qla_kkt_solve_profile" --hqk "$hqk" --hv "$hv" --tokens "$tokens" || rc=$?
    done > "$OUT/kkt_profile.txt" 2>&1
    cat "$OUT/kkt_profile.txt"
    # The CP correction's step (head, wait for M, multiply, combine) at 16 and 32 pieces of 8 value heads.
    for pieces in 16 32; do
      timeout 60 "$B/bin/qla_cp_correct_profile" --heads 8 --pieces "$pieces" || rc=$?
    done > "$OUT/cp_correct_profile.txt" 2>&1
    cat "$OUT/cp_correct_profile.txt"
    exit $rc ;;
  repeat)
    for run in a b; do
      db=$OUT/repeat_$run.sqlite
      rm -f "$db" "$db-wal" "$db-shm"
      # SIGINT is the tuner's clean stop (the trial in flight is committed, the run is closed).
      timeout -s INT -k 60 240 "$B/bin/qla" tune --problem 8192@2x8 --problem 8192@16x64 --budget 8 \
        --db "$db" > "$OUT/repeat_$run.log" 2>&1
      echo "tune $run rc=$? (130: stopped by the time limit)"
      tail -4 "$OUT/repeat_$run.log"
      # A read-write open and close folds the WAL into the store file, so the one file carries everything.
      "$B/bin/qla" db prune --dry-run "$db" > /dev/null
      rm -f "$db-shm"
    done
    "$B/bin/qla" db compare "$OUT/repeat_a.sqlite" "$OUT/repeat_b.sqlite" --json "$OUT/repeatability.json" \
      > "$OUT/repeat.txt" 2>&1
    rc=$?
    cat "$OUT/repeat.txt"
    exit $rc ;;
  ab)
    # One bench_gdn_fwd run per variant, qla only, the same shapes and inputs, then bench/ab_table.py side by side
    # (with $QLA_AB_KERNEL's time per call). A variant is a set of extra flags from $QLA_AB (';'-separated, e.g.
    # "--config gdn.cp_correct=bv8.ms1.sk4.rt1;--config gdn.cp_correct=bv8.ms1.sk1.rt4" or "--pdl true;--pdl false"),
    # or a bundle tarball from $QLA_AB_BUNDLES (';'-separated, e.g. "build/before.tar.xz;build/after.tar.xz": the
    # code before and after a kernel change, each run with the flags of $QLA_AB if it names one set).
    IFS=';' read -ra variants <<< "${QLA_AB:-}"
    IFS=';' read -ra bundles <<< "${QLA_AB_BUNDLES:-}"
    n=${#variants[@]}
    (( ${#bundles[@]} > n )) && n=${#bundles[@]}
    if (( n == 0 )) || { (( ${#bundles[@]} > 1 )) && (( ${#variants[@]} > 1 )) && (( ${#bundles[@]} != ${#variants[@]} )); }; then
      echo "gpu-session.sh ab: set QLA_AB to ';'-separated flag sets, or QLA_AB_BUNDLES to ';'-separated bundle" \
        "tarballs (and QLA_AB to one flag set or as many as bundles)" >&2
      exit 2
    fi
    docs=()
    names=()
    db=()
    [[ -f results/$store ]] && db=(--db "results/$store")
    for ((i = 0; i < n; ++i)); do
      flags=${variants[0]:-}
      (( ${#variants[@]} > 1 )) && flags=${variants[$i]}
      vb=$B
      name=$flags
      if (( ${#bundles[@]} > 0 )); then
        tarball=${bundles[$(( ${#bundles[@]} > 1 ? i : 0 ))]}
        vb=$PWD/build/ab_bundle_$i/bundle
        unpack_variant "$i" "$tarball"
        name="$tarball (qla $(cat "$vb/GIT_COMMIT" 2>/dev/null)) $flags"
      fi
      # shellcheck disable=SC2086  # each variant is a set of flags
      LD_LIBRARY_PATH="$vb/lib:/usr/local/cuda/lib64" timeout 280 "$vb/bin/bench_gdn_fwd" \
        --heads "${QLA_BENCH_HEADS:-2x8,4x16}" --seqs "${QLA_AB_SEQS:-headline}" \
        --impls "${QLA_AB_IMPLS:-qla-default}" --modes "${QLA_BENCH_MODES:-graph}" \
        "${db[@]}" --qla_out "$OUT/ab_$i.json" $flags > "$OUT/ab_$i.log" 2>&1 ||
        { echo "variant $i ($name) failed:"; tail -3 "$OUT/ab_$i.log"; exit 1; }
      docs+=("$OUT/ab_$i.json")
      names+=("$name")
    done
    { for i in "${!names[@]}"; do printf '%s: %s\n' "$(letter "$i")" "${names[$i]}"; done
      echo
      python3 bench/ab_table.py "${docs[@]}" ${QLA_AB_KERNEL:+--kernel "$QLA_AB_KERNEL"}; } | tee "$OUT/ab.md" ;;
  profile-ab)
    # Each bundle's chunk-step profile (forward and state pass, three shapes), CP-correction profile and
    # kkt_solve profile (two shapes), then every chunk step, correction step and kkt_solve call of the bundles
    # side by side (the same configs in the same order).
    IFS=';' read -ra bundles <<< "${QLA_AB_BUNDLES:-}"
    (( ${#bundles[@]} > 0 )) || { echo "gpu-session.sh profile-ab: set QLA_AB_BUNDLES" >&2; exit 2; }
    files=()
    for i in "${!bundles[@]}"; do
      vb=$PWD/build/ab_bundle_$i/bundle
      unpack_variant "$i" "${bundles[$i]}"
      f=$OUT/profile_$(letter "$i").txt
      { echo "$(letter "$i"): ${bundles[$i]} (qla $(cat "$vb/GIT_COMMIT" 2>/dev/null))"
        for shape in "16 64 32768" "2 8 32768" "2 8 2048"; do
          read -r hqk hv tokens <<< "$shape"
          LD_LIBRARY_PATH="$vb/lib:/usr/local/cuda/lib64" timeout 60 "$vb/bin/qla_chunk_step_profile" \
            --hqk "$hqk" --hv "$hv" --tokens "$tokens" --state-pass
        done
        LD_LIBRARY_PATH="$vb/lib:/usr/local/cuda/lib64" timeout 60 "$vb/bin/qla_cp_correct_profile" --heads 8 --pieces 32
        for shape in "16 64 32768" "16 32 32768"; do
          read -r hqk hv tokens <<< "$shape"
          LD_LIBRARY_PATH="$vb/lib:/usr/local/cuda/lib64" timeout 60 "$vb/bin/qla_kkt_solve_profile" \
            --hqk "$hqk" --hv "$hv" --tokens "$tokens"
        done
      } > "$f" 2>&1
      files+=("$f")
    done
    python3 bench/profile_ab_table.py "${files[@]}" | tee "$OUT/profile_ab.md"
    # Each build's phases of the state and aux warpgroups (a second file: too wide for the call's output).
    python3 bench/profile_ab_table.py --phases "${files[@]}" > "$OUT/profile_ab_phases.md"
    ;;
  ncu)
    # One launch (the third match, past the warm-up) profiled with the clocks left alone; the op's other
    # kernels run unprofiled.
    # Besides the sections: each warp stall reason per issued instruction, and shared memory's wavefronts and
    # bank conflicts (loads and stores apart).
    ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
    metrics="regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio"
    for op in ld st; do
      metrics+=",l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_$op.sum"
      metrics+=",l1tex__data_pipe_lsu_wavefronts_mem_shared_op_$op.sum,smsp__inst_executed_op_shared_$op.sum"
    done
    timeout "${QLA_NCU_SECONDS:-420}" "$ncu" --clock-control none --kernel-name "regex:${QLA_NCU_KERNEL:-kkt_solve}" --launch-skip 2 \
      --launch-count 1 --section SpeedOfLight --section Occupancy --section SchedulerStats \
      --section WarpStateStats --section MemoryWorkloadAnalysis --metrics "$metrics" \
      "$B/bin/bench_gdn_fwd" --heads "${QLA_BENCH_HEADS:-16x64}" --seqs "${QLA_AB_SEQS:-8192x4}" \
      --impls qla-default --modes cold --qla_out "$OUT/ncu_bench.json" > "$OUT/ncu.txt" 2>&1
    rc=$?
    grep -E "stalled|bank_conflicts|wavefronts|inst_executed_op_shared|Throughput|Duration|Occupancy" "$OUT/ncu.txt" |
      sed 's/  */ /g' | tail -60
    exit $rc ;;
  sanitize)
    # compute-sanitizer over GPU tests (${QLA_SANITIZE_FILTER:-Cp.*} of
    # ${QLA_SANITIZE_BINARY:-small_kernels_test}): memcheck, racecheck
    # (shared-memory hazards) and synccheck (barriers), one log each. API errors are not reported: loading a
    # kernel asks the driver for its second parameter (cuFuncGetParamInfo) to prove it takes exactly one
    # Params, and the driver's CUDA_ERROR_INVALID_VALUE is the expected answer.
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    rc=0
    for tool in memcheck racecheck synccheck; do
      timeout 240 "$cs" --tool "$tool" --report-api-errors no --error-exitcode 3 "$B/bin/${QLA_SANITIZE_BINARY:-small_kernels_test}" \
        --gtest_filter="${QLA_SANITIZE_FILTER:-Cp.*}" > "$OUT/sanitize_$tool.log" 2>&1
      r=$?
      echo "$tool rc=$r ($(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_$tool.log" | tail -1))"
      [[ $r == 0 ]] || rc=$r
    done
    exit $rc ;;
  *) echo "gpu-session.sh: tests, tune, bench, profile, profile-ab, repeat, ab, ncu or sanitize" >&2; exit 2 ;;
esac

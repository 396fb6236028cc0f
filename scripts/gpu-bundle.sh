#!/usr/bin/env bash
# Copies a built tree's `qla`, GPU test and bench binaries (stripped), plus the shared libraries the GPU machine
# lacks, into build/bundle/ so the GPU machine can run everything with one device call (carry: ["build/bundle"], or
# the compressed build/bundle.tar.xz, see the end).
#   scripts/gpu-bundle.sh [BUILD_DIR] [--all] [--kernel-cache ARCH]
#     BUILD_DIR       default build/ci
#     --all           also the CPU-only test binaries
#     --kernel-cache  also `qla cache warm --arch ARCH` (e.g. sm_90a) into build/kernel-cache.tar.xz: every config
#                     compiled here, so a GPU machine with the same NVRTC compiles nothing (gpu-session.sh unpacks
#                     it from $QLA_KERNEL_CACHE_TAR); minutes of CPU here against minutes of GPU time there
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/ci
all=0
cache_arch=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --all) all=1 ;;
    --kernel-cache) cache_arch=${2:?--kernel-cache needs a target, e.g. sm_90a}; shift ;;
    *) build=$1 ;;
  esac
  shift
done
out=build/bundle
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
shopt -s nullglob
# CPU-only suites run in CI; the GPU machine needs only what touches the device.
cpu_only=" core_test cli_test io_test reference_test report_test tuner_test tune_cli_test header_test run_test "
cpu_only+=" tuned_dispatch_test launch_test tuner_gdn_test nvrtc_configs_test bench_reference "
bins=()
[[ -x $build/qla ]] && bins+=("$build/qla")
[[ -x $build/qla_deploy_example ]] && bins+=("$build/qla_deploy_example")
for f in "$build"/tests/*/*_test "$build"/bench/* "$build"/examples/*/*; do
  [[ -f $f && -x $f ]] || continue
  name=$(basename "$f")
  [[ $all == 1 || $cpu_only != *" $name "* ]] && bins+=("$f")
done
for b in "${bins[@]}"; do
  cp "$b" "$out/bin/"
  strip --strip-unneeded "$out/bin/$(basename "$b")" 2>/dev/null || true
done
# Shared libraries the GPU machine (Ubuntu 24.04 with the CUDA toolkit, glibc, libstdc++ and libsqlite3) lacks,
# e.g. Debian's libbenchmark.so.1debian.
for b in "${bins[@]}"; do
  ldd "$b" 2>/dev/null | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
      libsqlite3.so*|libcupti.so*|libnvrtc*|libcuda.so*) ;;
      *) cp -n "$lib" "$out/lib/" ;;
    esac
  done
done
cp scripts/gpu-test.sh "$out/"
# The commit the binaries were built from ("-dirty" when the tree had uncommitted changes): the bench records it.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':!results' ':!reports' 2>/dev/null || commit+="-dirty"
echo "$commit" > "$out/GIT_COMMIT"
# The same tree compressed, for when the binaries and the tracked files together outgrow what a device call may
# carry (64 MiB): carry ["build/bundle.tar.xz"] and start the command with `tar -xJf build/bundle.tar.xz -C build`.
tar -cJf build/bundle.tar.xz -C build bundle
echo "bundled ${#bins[@]} binaries into $out ($(du -sh "$out" | cut -f1); build/bundle.tar.xz $(du -sh build/bundle.tar.xz | cut -f1))"
if [[ -n $cache_arch ]]; then
  rm -rf build/kernel-cache
  QLA_CACHE_DIR=$PWD/build/kernel-cache "$build/qla" cache warm --arch "$cache_arch" | tail -1
  tar -cJf build/kernel-cache.tar.xz -C build/kernel-cache .
  echo "kernel cache for $cache_arch: build/kernel-cache.tar.xz $(du -sh build/kernel-cache.tar.xz | cut -f1)"
fi

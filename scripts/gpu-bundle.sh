#!/usr/bin/env bash
# Copies a built tree's `qla`, test and bench binaries, plus the non-system shared libraries they need, into
# build/bundle/ so the GPU machine can run everything with one device call (carry: ["build/bundle"]).
#   scripts/gpu-bundle.sh [BUILD_DIR]   (default build/ci)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/ci}
out=build/bundle
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
shopt -s nullglob
bins=()
[[ -x $build/qla ]] && bins+=("$build/qla")
for f in "$build"/tests/*/*_test "$build"/tests/*/test_* "$build"/bench/*; do
  [[ -f $f && -x $f ]] && bins+=("$f")
done
for b in "${bins[@]}"; do cp "$b" "$out/bin/"; done
# Shared libraries outside the base system (and outside the CUDA toolkit, which the GPU machine has).
for b in "${bins[@]}"; do
  ldd "$b" 2>/dev/null | awk '/=> \//{print $3}' | while read -r lib; do
    case "$lib" in
      /lib/*|/usr/lib/x86_64-linux-gnu/libc.so*|/usr/lib/x86_64-linux-gnu/libm.so*|/usr/local/cuda*) ;;
      */libstdc++.so*|*/libgcc_s.so*|*/libpthread.so*|*/libdl.so*|*/librt.so*) ;;
      *) cp -n "$lib" "$out/lib/" ;;
    esac
  done
done
cp scripts/gpu-test.sh "$out/"
echo "bundled ${#bins[@]} binaries into $out ($(du -sh "$out" | cut -f1))"

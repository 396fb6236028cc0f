#!/usr/bin/env bash
# Packs the baselines' Python packages for a GPU machine that reaches no package registry: FLA 0.5.2 and
# FlashQLA 0.1.3 with TileLang 0.1.15 and what it needs, unzipped into one folder (peer-site/) and xz-compressed.
# What the baselines' forward never loads is left out (z3's command-line binary, the second copy of libz3, the
# TVM C++ sources), so the tarball (~39 MB) fits a 64 MiB device call beside a bundle, a kernel cache and the tree.
#   scripts/pack-peers.sh OUT.tar.xz            (e.g. build/peers-slim.tar.xz)
# On the GPU machine: tar -xJf OUT.tar.xz -C /tmp && export PYTHONPATH=/tmp/peer-site (bench-gpu.sh --peers does
# this). torch, numpy, ml-dtypes, cloudpickle, psutil, tqdm and typing-extensions must be there already.
set -euo pipefail
out=$(realpath -m "${1:?usage: pack-peers.sh OUT.tar.xz}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pins=(fla-core==0.5.2 flash-linear-attention==0.5.2 flash-qla==0.1.3 tilelang==0.1.15 apache-tvm-ffi==0.1.12
      torch-c-dlpack-ext==0.1.5 z3-solver==4.15.4.0)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$work/wheels" "${pins[@]}"
site=$work/peer-site
mkdir -p "$site"
for w in "$work"/wheels/*.whl; do python3 -m zipfile -e "$w" "$site"; done
rm -rf "$site"/z3_solver-*.data "$site"/tilelang/3rdparty/tvm/src
if [[ -f $site/z3/lib/libz3.so && -f $(echo "$site"/z3/lib/libz3.so.*) ]]; then
  ln -sf "$(basename "$(echo "$site"/z3/lib/libz3.so.*)")" "$site/z3/lib/libz3.so"
fi
find "$site" -name '*.so' -o -name '*.so.*' -o -path '*/bin/*' | xargs chmod +x 2>/dev/null || true
tar -C "$work" -cf - peer-site | xz -T0 -6 > "$out"
echo "pack-peers: $(ls "$work"/wheels | wc -l) wheels -> $out ($(du -h "$out" | cut -f1))"

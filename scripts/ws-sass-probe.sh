#!/usr/bin/env bash
# SASS of two warp-specialised fused_fwd instantiations (needs nvcc and cuobjdump, i.e. the GPU machine):
# whether setmaxnreg made it into the code and whether the spills sit in the producer or the consumers.
#   scripts/ws-sass-probe.sh            (writes $OUT/ws_probe.sass, prints the interesting lines)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp}
work=$(mktemp -d)
cat > "$work/probe.cu" <<'EOT'
#include "gdn/fused_fwd_ws.cuh"
template __global__ void qla::gdn::fused_fwd_ws_kernel<64, 128, 2, 8, 40, __nv_bfloat16, float>(qla::gdn::FusedFwdParams);
template __global__ void qla::gdn::fused_fwd_ws_kernel<32, 128, 2, 8, 24, __nv_bfloat16, float>(qla::gdn::FusedFwdParams);
EOT
nvcc -gencode=arch=compute_90a,code=sm_90a -cubin -std=c++17 --expt-relaxed-constexpr -I"$repo/kernels/device" \
  -I"$repo/kernels/include" -Xptxas -v "$work/probe.cu" -o "$work/probe.cubin" 2>&1 | grep -E "registers|spill"
cuobjdump -sass "$work/probe.cubin" > "$out/ws_probe.sass"
grep -nE "Function|SETMAXREG|STL|LDL|EXIT" "$out/ws_probe.sass" | head -40

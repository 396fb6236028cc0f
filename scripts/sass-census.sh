#!/usr/bin/env bash
# SASS instruction census of one kernel-family config as the JIT path builds it (NVRTC, the project's flags,
# with line tables), no GPU needed: per kernel the instruction count, spills (STL/LDL), shared-memory, global
# and tensor-core instructions, and the source lines holding the most instructions. Configs in a family's
# ahead-of-time list run nvcc's build, which can differ (NVRTC 13.0 addresses shared memory in 64 bits).
#   scripts/sass-census.sh FAMILY CONFIG [--match TEXT] [--arch sm_90a] [--lines N]
#   e.g. scripts/sass-census.sh gdn.kkt_solve c64.b16.w1.vh0.cs1 --match bfloat16
# The cubins and listings stay in build/sass/. Uses build/ci/qla (or $QLA), and nvdisasm from PATH, the CUDA
# Toolkit, or else NVIDIA's nvdisasm wheel from PyPI unpacked into build/tools (once).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/env.sh"
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
(($# >= 2)) || usage
family=$1 config=$2
shift 2
match="" arch=sm_90a lines=25
while (($#)); do
  case $1 in
    --match) match=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    *) usage ;;
  esac
done
qla=${QLA:-$repo/build/ci/qla}
[[ -x $qla ]] || { echo "sass-census: no qla binary at $qla (build it, or set QLA)" >&2; exit 2; }

nvdisasm=$(command -v nvdisasm || true)
[[ -z $nvdisasm && -x /usr/local/cuda/bin/nvdisasm ]] && nvdisasm=/usr/local/cuda/bin/nvdisasm
if [[ -z $nvdisasm ]]; then
  tools=$repo/build/tools
  nvdisasm=$(find "$tools" -name nvdisasm -type f 2>/dev/null | head -1 || true)
  if [[ -z $nvdisasm ]]; then
    echo "sass-census: fetching nvdisasm (NVIDIA's nvidia-cuda-nvdisasm wheel) into $tools" >&2
    mkdir -p "$tools"
    python3 -m pip download --quiet --no-deps --dest "$tools" "nvidia-cuda-nvdisasm>=13,<14"
    python3 -m zipfile -e "$(ls "$tools"/nvidia_cuda_nvdisasm-*.whl | head -1)" "$tools/nvdisasm-wheel"
    nvdisasm=$(find "$tools/nvdisasm-wheel" -name nvdisasm -type f | head -1)
    chmod +x "$nvdisasm"
  fi
fi

out=$repo/build/sass
mkdir -p "$out"
rm -f "$out/$family.$config".*.cubin
"$qla" cache cubin --family "$family" --config "$config" --arch "$arch" --lineinfo -o "$out" \
  ${match:+--match "$match"}
for cubin in "$out/$family.$config".*.cubin; do
  listing=${cubin%.cubin}.sass
  "$nvdisasm" -c -g "$cubin" > "$listing"
  echo "== $(basename "$cubin") ($listing)"
  python3 "$repo/scripts/sass_census.py" --lines "$lines" "$listing"
done

#!/usr/bin/env bash
# Installs the Debian packages qla builds against. Does nothing when they are all present.
# The CUDA Toolkit (nvcc, NVRTC, CUPTI, static cudart) is expected under /usr/local/cuda or on PATH.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libeigen3-dev nlohmann-json3-dev libsqlite3-dev libsqlitecpp-dev libcli11-dev
  libgtest-dev libbenchmark-dev clang-format python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v nvcc >/dev/null 2>&1; then
  if [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo "setup: nvcc is at /usr/local/cuda/bin; add it to PATH (scripts/env.sh does)"
  else
    echo "setup: the CUDA Toolkit (nvcc) was not found; install CUDA 12.4 or newer" >&2
    exit 1
  fi
fi

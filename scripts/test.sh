#!/usr/bin/env bash
# Sets up, builds (warnings as errors) and runs every test. GPU tests skip where there is no GPU.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L cpu
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
ctest --preset ci -j "$(nproc)" "$@"

#!/usr/bin/env bash
# Sets up, builds and runs the main job: tune the GDN forward on the first GPU into results/<gpu>.sqlite.
# Extra arguments go to `qla tune` (see `build/release/qla tune --help`); without any, the headline suite
# (5 Qwen3.5 head configurations x 4 sequence sets) is tuned. Resumes where an earlier run stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
[[ $# -gt 0 ]] || set -- --suite headline
exec build/release/qla tune "$@"

#!/usr/bin/env bash
# Sets up, builds and runs the main job: tune the GDN forward on the first GPU into results/<gpu>.sqlite.
# Extra arguments go to `qla tune` (see `build/release/qla tune --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
exec build/release/qla tune "$@"

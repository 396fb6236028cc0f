#!/usr/bin/env bash
# clang-format over the project's C++ and CUDA sources (.clang-format: Google base, 100 columns). Generated files
# (the header goldens, the deploy example's tuned header) are left as their generator writes them.
#   scripts/format.sh           rewrite the files in place
#   scripts/format.sh --check   change nothing; list the files that differ and exit 1 if any does
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-fix}
command -v clang-format >/dev/null || scripts/setup.sh
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' | grep -v -e '^tests/header/golden/' -e '^examples/deploy/tuned_')
if [[ $mode == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'format: %s differs from clang-format\n' "${bad[@]}" >&2
    echo "format: ${#bad[@]} of ${#files[@]} files; run scripts/format.sh" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files clean ($(clang-format --version | head -1))"
else
  clang-format -i "${files[@]}"
fi

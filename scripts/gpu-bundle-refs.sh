#!/usr/bin/env bash
# Bundles of several git refs for one A/B device call (gpu-session.sh profile-ab or ab with QLA_AB_BUNDLES):
# each ref is checked out in turn, built incrementally in build/ci and bundled as build/ab-<ref>.tar.xz (slashes
# in the ref become dashes); the last ref's NVRTC kernel cache for ARCH is kept as build/kc-<ref>.tar.xz, for
# the tests and the tune that follow the A/B in the same call. The checkout returns to where it was.
#   scripts/gpu-bundle-refs.sh [--kernel-cache ARCH] REF...
#   e.g. scripts/gpu-bundle-refs.sh --kernel-cache sm_90a main next/topic
# Between refs only what changed is rebuilt (about 6 minutes a ref on 2 cores when a kernel header changed).
# The working tree must be clean: the script checks out other commits.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cache_arch=
refs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kernel-cache) cache_arch=${2:?--kernel-cache needs a target, e.g. sm_90a}; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu-bundle-refs.sh: unknown option $1" >&2; exit 2 ;;
    *) refs+=("$1") ;;
  esac
  shift
done
(( ${#refs[@]} > 0 )) || { echo "gpu-bundle-refs.sh: name the refs to bundle (see --help)" >&2; exit 2; }
for ref in "${refs[@]}"; do
  git rev-parse --verify --quiet "$ref^{commit}" > /dev/null || { echo "gpu-bundle-refs.sh: no commit $ref" >&2; exit 2; }
done
git diff --quiet HEAD && git diff --cached --quiet ||
  { echo "gpu-bundle-refs.sh: the working tree has uncommitted changes; commit or stash them first" >&2; exit 2; }
start=$(git symbolic-ref --quiet --short HEAD || git rev-parse HEAD)
trap 'git checkout --quiet "$start"' EXIT
[[ -f build/ci/build.ninja ]] || cmake --preset ci > /dev/null
last=${refs[$(( ${#refs[@]} - 1 ))]}
for ref in "${refs[@]}"; do
  name=${ref//\//-}
  echo "== $ref"
  git checkout --quiet "$ref"
  cmake --build --preset ci -j "$(nproc)" > "build/ab-$name.log" 2>&1 ||
    { echo "gpu-bundle-refs.sh: $ref does not build (build/ab-$name.log)" >&2; exit 1; }
  if [[ $ref == "$last" && -n $cache_arch ]]; then
    scripts/gpu-bundle.sh --kernel-cache "$cache_arch"
    mv build/kernel-cache.tar.xz "build/kc-$name.tar.xz"
  else
    scripts/gpu-bundle.sh
  fi
  mv build/bundle.tar.xz "build/ab-$name.tar.xz"
  echo "build/ab-$name.tar.xz: qla $(tar -xJOf "build/ab-$name.tar.xz" bundle/GIT_COMMIT)"
done

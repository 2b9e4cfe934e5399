#!/usr/bin/env bash
# Builds (incrementally) and runs the whole test suite with CTest. Exits non-zero on any failure.
# Usage: scripts/test.sh [ctest args...]      Environment: QB_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${QB_BUILD_DIR:-build}"
[ -f "$build_dir/build.ninja" ] || cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# Builds Quantbench with AddressSanitizer + UndefinedBehaviorSanitizer (QB_SANITIZE=ON, RelWithDebInfo,
# no benchmarks) into ./build-asan and runs the whole test suite there. Any sanitizer report fails its
# test: UBSan does not recover, LSan's exit code fails a test that leaks (third-party leaks are
# suppressed by tests/sanitizer/lsan.supp, set by tests/CMakeLists.txt). Slow: not part of .ci/run.
# Usage: scripts/sanitize.sh [ctest args...]      Environment: QB_BUILD_DIR (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"
build_dir="${QB_BUILD_DIR:-build-asan}"
cmake -S . -B "$build_dir" -G Ninja -DQB_SANITIZE=ON -DQB_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# Installs the Debian 12 packages Quantbench needs and builds it (Release, ccache) into ./build.
# Usage: scripts/setup.sh [extra cmake args...]     Environment: QB_BUILD_DIR (default build), QB_SKIP_APT=1
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config ccache
  qt6-base-dev qt6-base-dev-tools libqcustomplot-dev libqcustomplot2.1-qt6 qt6-svg-dev libgl-dev libxkbcommon-dev
  libvulkan-dev glslc glslang-tools spirv-tools vulkan-validationlayers vulkan-tools mesa-vulkan-drivers
  libhdf5-dev hdf5-tools nlohmann-json3-dev
  xvfb xauth imagemagick python3-h5py
)

if [ "${QB_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

build_dir="${QB_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j"$(nproc)"
echo "setup: built into $build_dir (CLI: $build_dir/app/quantbench-cli)"

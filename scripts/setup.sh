#!/usr/bin/env bash
# Installs the Debian 12 packages lt needs, when missing, and builds it.
#   scripts/setup.sh            # packages + Release build in ./build
#   LT_BUILD_DIR=b scripts/setup.sh
#   LT_CMAKE_ARGS="-DLT_SANITIZE=ON" LT_BUILD_DIR=build-asan scripts/setup.sh
#   scripts/setup.sh --fuzz     # also clang and libFuzzer (fuzz/README.md)
# Root runs apt-get directly; other users go through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config git
  libtorch-dev libhdf5-dev hdf5-tools libcli11-dev libfmt-dev libopencv-dev doctest-dev zlib1g-dev
  libjpeg-dev libpng-dev  # strict JPEG and PNG decoding (lib/lt/image)
  libopenblas0-openmp   # Debian's LibTorch otherwise multiplies matrices with the reference BLAS (~30x slower)
  libopenblas-openmp-dev  # cblas for the training-free core (the math wing)
  libgloo-dev           # headers of LibTorch's Gloo process group (data-parallel lt-train)
  dataset-fashion-mnist # the embedded default data (IDX files)
  python3 python3-numpy python3-h5py   # the independent reference of the tests
  gnuplot-nox wordnet-dev              # plots and WordNet similarity of the reports
  make                                 # Makefile.pipeline and the examples
)
if [ "${1:-}" = --fuzz ]; then
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

build=${LT_BUILD_DIR:-build}
# shellcheck disable=SC2086  # LT_CMAKE_ARGS holds several words
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${LT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${LT_JOBS:-2}"

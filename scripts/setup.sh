#!/usr/bin/env bash
# Installs the Debian 12 packages lt needs, when missing, and builds it.
#   scripts/setup.sh            # packages + Release build in ./build
#   LT_BUILD_DIR=b scripts/setup.sh
#   LT_CMAKE_ARGS="-DLT_SANITIZE=ON" LT_BUILD_DIR=build-asan scripts/setup.sh
#   scripts/setup.sh --fuzz     # also clang and libFuzzer (fuzz/README.md)
#   scripts/setup.sh --cuda     # against a CUDA LibTorch, in ./build-cuda (README.md)
#   LT_LIBTORCH=~/libtorch scripts/setup.sh --cuda
# --cuda takes LibTorch from LT_LIBTORCH (an unpacked LibTorch, or any folder
# holding its TorchConfig.cmake) or else from the installed PyTorch
# (torch.utils.cmake_prefix_path); everything else comes from Debian.
# Root runs apt-get directly; other users go through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: error: $1" >&2; exit 1; }

# The LibTorch versions lt's code is written for (TORCH_VERSION guards the
# differences): Debian's 1.13 up to the 2.x series.
lowest_torch=1.13 next_unsupported_torch=3.0
cuda_libtorch() {
  local given=${LT_LIBTORCH:-} config
  if [ -z "$given" ]; then
    given=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) ||
      fail "--cuda needs a CUDA LibTorch: none in LT_LIBTORCH, and python3 cannot import torch (hint: LT_LIBTORCH=DIR of an unpacked LibTorch from pytorch.org, or pip install torch)"
  fi
  [ -d "$given" ] || fail "LT_LIBTORCH=$given is not a folder (hint: the unpacked LibTorch, which holds share/cmake/Torch)"
  config=$(find -L "$given" -maxdepth 5 -name TorchConfig.cmake -print -quit 2>/dev/null)
  [ -n "$config" ] || fail "no LibTorch in $given: no TorchConfig.cmake below it (hint: LT_LIBTORCH=DIR of an unpacked LibTorch, which holds share/cmake/Torch)"
  local torch_dir version libraries
  torch_dir=$(dirname "$config")
  version=$(sed -n 's/^set(PACKAGE_VERSION "\([0-9.]*\).*/\1/p' "$torch_dir/TorchConfigVersion.cmake" 2>/dev/null)
  # LibTorch's libraries lie in lib/ of its prefix (a LibTorch zip, pip's
  # torch/) or next to cmake/ (a distribution's).
  libraries=$(cd "$torch_dir/../../.." && pwd)/lib
  [ -d "$libraries" ] || libraries=$(cd "$torch_dir/../.." && pwd)
  if ! ls "$libraries"/libtorch_cuda.so* >/dev/null 2>&1 && ! ls "$torch_dir"/../../libtorch_cuda.so* >/dev/null 2>&1; then
    fail "the LibTorch in $torch_dir is CPU-only (no libtorch_cuda) (hint: the default build, scripts/setup.sh without --cuda, uses Debian's CPU LibTorch; for --cuda give a CUDA LibTorch)"
  fi
  if [ -z "$version" ] || ! printf '%s\n%s\n' "$lowest_torch" "$version" | sort -V -C ||
     printf '%s\n%s\n' "$next_unsupported_torch" "$version" | sort -V -C; then
    fail "LibTorch ${version:-of unknown version} in $torch_dir: lt supports $lowest_torch to 2.x (hint: a LibTorch or PyTorch from $lowest_torch on, below $next_unsupported_torch)"
  fi
  if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ] && [ -z "${CUDACXX:-}" ]; then
    fail "no CUDA toolkit: LibTorch's CMake files need nvcc (hint: install the CUDA toolkit of the major version this LibTorch was built with, or set CUDACXX=/path/to/nvcc)"
  fi
  [ -n "${CUDACXX:-}" ] || command -v nvcc >/dev/null || export CUDACXX=/usr/local/cuda/bin/nvcc
  torch_prefix=$(cd "$torch_dir/.." && pwd)
  echo "setup: CUDA LibTorch $version from $torch_dir" >&2
}

packages=(
  g++ cmake ninja-build pkg-config git
  libhdf5-dev hdf5-tools libcli11-dev libfmt-dev libopencv-dev doctest-dev zlib1g-dev
  libjpeg-dev libpng-dev  # strict JPEG and PNG decoding (lib/lt/image)
  libopenblas0-openmp   # Debian's LibTorch otherwise multiplies matrices with the reference BLAS (~30x slower)
  libopenblas-openmp-dev  # cblas for the training-free core (the math wing)
  libgloo-dev           # headers of LibTorch's Gloo process group (data-parallel lt-train)
  dataset-fashion-mnist # the embedded default data (IDX files)
  python3 python3-numpy python3-h5py   # the independent reference of the tests
  gnuplot-nox wordnet-dev              # plots and WordNet similarity of the reports
  make                                 # Makefile.pipeline and the examples
  man-db                               # man -l, which the tests run on each man page
)
cuda=false
case "${1:-}" in
  --fuzz) packages+=(clang libclang-rt-14-dev) ;;
  --cuda) cuda=true; cuda_libtorch ;;
  "") ;;
  *) fail "unknown option $1 (hint: scripts/setup.sh [--fuzz | --cuda])" ;;
esac
# The CPU build's LibTorch is Debian's; a CUDA build must not see its
# headers, so it is only installed for the CPU build.
$cuda || packages+=(libtorch-dev)
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
cuda_args=()
if $cuda; then
  build=${LT_BUILD_DIR:-build-cuda}
  cuda_args=(-DCMAKE_PREFIX_PATH="$torch_prefix" -DLT_TORCH_BACKEND=ON -DLT_REQUIRE_CUDA=ON)
fi
# shellcheck disable=SC2086  # LT_CMAKE_ARGS holds several words
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" ${LT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${LT_JOBS:-2}"

#!/usr/bin/env bash
# On a GPU machine with a CUDA PyTorch but none of lt's other libraries:
# unpacks what tests/gpu/prepare.sh gathered into DEPS, builds lt against
# PyTorch's LibTorch, and runs tests/gpu/run.sh (end to end when DEPS holds
# fashion-mnist-lt.tar.gz).
#   tests/gpu/on-device.sh DEPS [BUILD]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
deps=$(cd "${1:?usage: tests/gpu/on-device.sh DEPS [BUILD]}" && pwd)
build=${2:-$src/build-gpu}
root=/tmp/lt-gpu-deps
mkdir -p "$root"
for package in "$deps"/*.deb; do dpkg -x "$package" "$root"; done
lib=$root/usr/lib/x86_64-linux-gnu
# Also how the linker finds the libraries that OpenCV's libraries need.
export LD_LIBRARY_PATH=$deps/stubs:$lib:$lib/hdf5/serial:$lib/openblas-openmp:$lib/blas:$lib/lapack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
torch_prefix=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src/tests/gpu" -B "$build" "${generator[@]}" -DCMAKE_PREFIX_PATH="$torch_prefix" -DDEPS_PREFIX="$root" \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
start=$(date +%s)
if ! cmake --build "$build" -j "$(nproc)" >"$build.log" 2>&1; then
  grep -m 20 -B 2 -A 8 "error" "$build.log" || tail -n 60 "$build.log"
  exit 1
fi
echo "build: $(( $(date +%s) - start )) s"
data=""
if [ -f "$deps/fashion-mnist-lt.tar.gz" ]; then
  rm -rf /tmp/lt-gpu-data && mkdir /tmp/lt-gpu-data
  tar xzf "$deps/fashion-mnist-lt.tar.gz" -C /tmp/lt-gpu-data
  set -- /tmp/lt-gpu-data/*
  data=$1
fi
"$src/tests/gpu/run.sh" "$build" $data

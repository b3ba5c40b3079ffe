#!/usr/bin/env bash
# Runs the GPU checks on a machine with a GPU, after tests/gpu/CMakeLists.txt
# built the core into BUILD: unit tests on cuda vs cpu, then the tools with
# --device cuda against --device cpu on generated features.
#   tests/gpu/run.sh BUILD
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
"$build/gpu_tests"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 "$src/tests/ref/gen.py" data "$work/d" >/dev/null
bin=$build/bin
"$bin/lt-protos" "$work/d/train.h5" -o "$work/p.h5"
for device in cpu cuda; do
  for k in 0 20 100; do
    "$bin/lt-attend" --classifier "$work/d/clf.h5" --protos "$work/p.h5" -k $k --device $device -o "$work/wh$k-$device.h5"
  done
  "$bin/lt-ensemble" "$work/wh0-$device.h5" "$work/wh20-$device.h5" "$work/wh100-$device.h5" -o "$work/ens-$device.h5"
  "$bin/lt-eval" "$work/d/test.h5" "$work/d/clf.h5" "$work/p.h5" "$work/wh20-$device.h5" "$work/ens-$device.h5" \
      --names cosine,protos,wh20,ensemble --format tsv --device $device >"$work/eval-$device.tsv"
done
python3 - "$work" <<'PY'
import sys, h5py, numpy as np
work = sys.argv[1]
for k in (0, 20, 100):
    a = h5py.File(f"{work}/wh{k}-cpu.h5")["weights"][:]
    b = h5py.File(f"{work}/wh{k}-cuda.h5")["weights"][:]
    print(f"lt-attend -k {k}: max |cpu - cuda| = {np.abs(a - b).max():.2e}")
    assert np.abs(a - b).max() < 1e-5
PY
echo "lt-eval --device cpu:";  cat "$work/eval-cpu.tsv"
echo "lt-eval --device cuda:"; cat "$work/eval-cuda.tsv"
cmp "$work/eval-cpu.tsv" "$work/eval-cuda.tsv" && echo "gpu checks: cpu and cuda agree"

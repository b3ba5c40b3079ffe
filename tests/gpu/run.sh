#!/usr/bin/env bash
# Runs the GPU checks on a machine with a GPU, after tests/gpu/CMakeLists.txt
# built lt into BUILD: unit tests on cuda vs cpu, then the training-free
# tools with --device cuda against --device cpu on generated features, then
# (given a data set made by lt-data fashion-mnist) lt-train and lt-extract
# on cuda end to end.
#   tests/gpu/run.sh BUILD [DATA_FOLDER]
set -euo pipefail
build=$1
data=${2:-}
# Skipped (77) in a CPU-only build; gpu_tests itself skips without a GPU.
if [ ! -x "$build/gpu_tests" ]; then
  echo "skipped: no $build/gpu_tests (built against a CUDA LibTorch only)"; exit 77
fi
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
  "$bin/lt-attend" --classifier "$work/d/clf.h5" --protos "$work/p.h5" -k 0,20,100 --tau 10,1e6 --device $device \
      -o "$work/sweep{k}-{tau}-$device.h5"
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
    for tau in ("10", "1000000"):
        a = h5py.File(f"{work}/sweep{k}-{tau}-cpu.h5")["weights"][:]
        b = h5py.File(f"{work}/sweep{k}-{tau}-cuda.h5")["weights"][:]
        print(f"lt-attend sweep k={k} tau={tau}: max |cpu - cuda| = {np.abs(a - b).max():.2e}")
        assert np.abs(a - b).max() < 1e-5
PY
echo "lt-eval --device cpu:";  cat "$work/eval-cpu.tsv"
echo "lt-eval --device cuda:"; cat "$work/eval-cuda.tsv"
cmp "$work/eval-cpu.tsv" "$work/eval-cuda.tsv" && echo "gpu checks: cpu and cuda agree"

[ -n "$data" ] || exit 0

# lt-train and lt-extract on cuda: the default recipe, end to end.
common=(--config fashion-mnist-lt --train-list "$data/train.txt" --val-list "$data/val.txt" --root "$data")
seconds() { python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$1"; }
start=$(date +%s.%N)
"$bin/lt-train" "${common[@]}" --device cuda --log "$work/train.jsonl" -o "$work/model.h5"
echo "lt-train --device cuda, fashion-mnist-lt recipe: $(seconds "$start") s"
tail -n 1 "$work/train.jsonl"
# A checkpoint written on cuda resumes on cuda.
"$bin/lt-train" "${common[@]}" --device cuda --epochs 2 -q -o "$work/short.h5"
"$bin/lt-train" "${common[@]}" --device cuda --epochs 3 --resume -o "$work/short.h5"
for split in train val test; do
  start=$(date +%s.%N)
  "$bin/lt-extract" --model "$work/model.h5" --list "$data/$split.txt" --root "$data" --device cuda -o "$work/$split.h5"
  echo "lt-extract --device cuda, $split: $(seconds "$start") s"
done
"$bin/lt-extract" --model "$work/model.h5" --list "$data/test.txt" --root "$data" --device cpu -o "$work/test-cpu.h5"
"$bin/lt-protos" "$work/train.h5" -o "$work/protos.h5"
"$bin/lt-eval" "$work/test-cpu.h5" "$work/model.h5" "$work/protos.h5" --names cosine,prototypes --device cpu \
    --format tsv >"$work/eval-cpu.tsv"
"$bin/lt-eval" "$work/test.h5" "$work/model.h5" "$work/protos.h5" --names cosine,prototypes --device cuda \
    --format tsv >"$work/eval-cuda.tsv"
python3 - "$work" <<'PY'
import sys, h5py, numpy as np
work = sys.argv[1]
epochs = int(np.ravel(h5py.File(f"{work}/short.h5")["train_state"].attrs["epoch"])[0])
print(f"lt-train --resume on cuda: checkpoint after 2 epochs resumed to {epochs}")
assert epochs == 3
gpu = h5py.File(f"{work}/test.h5")["features"][:]
cpu = h5py.File(f"{work}/test-cpu.h5")["features"][:]
assert gpu.shape == cpu.shape == (10000, 64), gpu.shape
relative = np.abs(gpu - cpu).max() / np.abs(cpu).max()
print(f"lt-extract test features: max |cuda - cpu| = {np.abs(gpu - cpu).max():.2e} ({relative:.2e} of the largest)")
assert relative < 1e-2  # cuDNN convolutions use TF32 by default
PY
echo "lt-eval, features extracted on cpu:";  cat "$work/eval-cpu.tsv"
echo "lt-eval, features extracted on cuda:"; cat "$work/eval-cuda.tsv"
echo "gpu checks: lt-train and lt-extract ran on cuda"

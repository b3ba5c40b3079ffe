#!/usr/bin/env bash
# --device of the training-free tools, and what they load. In a build
# without the LibTorch backend (LT_TORCH_BACKEND off, the CPU default): the
# core tools link no LibTorch (ldd), --device auto computes on the CPU and
# --device cuda is a one-line error that says why (exit 1). With the
# backend linked, cuda without a GPU is the same kind of error.
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$LT_SRC/tests/ref/env.sh" lt-protos lt-attend lt-eval lt-ensemble lt-compat lt-project lt-adjust
ENV_WORK=$WORK
source "$(dirname "$0")/../lib/cli.sh"
rm -rf "$ENV_WORK"
G=$WORK/gen
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" >/dev/null || fail "gen.py data"
expect_ok lt-protos -q "$G/train.h5" -o "$WORK/p.h5"

section "the core tools link no LibTorch unless they offer --device in a build with the backend"
for tool in lt-protos lt-ensemble lt-adjust lt-compat lt-project; do
  ! ldd "$LT_BIN/$tool" | grep -Eq 'libtorch|libc10' || fail "$tool links LibTorch"
done
backend=no
ldd "$LT_BIN/lt-eval" | grep -Eq 'libtorch|libc10' && backend=yes
if [[ $backend == no ]]; then
  ! ldd "$LT_BIN/lt-attend" | grep -Eq 'libtorch|libc10' || fail "lt-attend links LibTorch, lt-eval does not"
fi

section "--device auto and cpu compute; cuda says why it cannot"
expect_ok lt-eval -q "$G/test.h5" "$WORK/p.h5" --format tsv --device cpu
cp "$LT_STDOUT" "$WORK/cpu.tsv"
if [[ $backend == no ]]; then
  expect_ok lt-eval -q "$G/test.h5" "$WORK/p.h5" --format tsv --device auto
  cmp -s "$WORK/cpu.tsv" "$LT_STDOUT" || fail "--device auto differs from cpu"
  expect_fail 1 "--device cuda: this lt was built without the CUDA backend \(hint: .*LT_TORCH_BACKEND" -- \
    lt-eval "$G/test.h5" "$WORK/p.h5" --device cuda
  expect_fail 1 "--device cuda: this lt was built without the CUDA backend" "$WORK/x.h5" -- \
    lt-attend --classifier "$G/clf.h5" --protos "$WORK/p.h5" --device cuda -o "$WORK/x.h5"
elif ! nvidia-smi -L >/dev/null 2>&1; then
  expect_fail 1 "--device cuda: no GPU is visible" -- lt-eval "$G/test.h5" "$WORK/p.h5" --device cuda
else
  echo "note: a GPU is visible: tests/gpu/run.sh compares cuda with cpu"
fi
echo "device.sh: devices resolve as documented"

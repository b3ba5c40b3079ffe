# --amp, --no-tf32 and --deterministic on the cpu: bf16 autocast extracts
# float32 features near the float32 ones and trains, reproducibly; fp16 is a
# usage error there; the cuda-only switches leave cpu results bit for bit.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"
export LT_PROVENANCE=fixed

make_tiny_images "$WORK/fm" 40 4 5 23
D=$WORK/fm
T=(--train-list "$D/train.txt" --root "$D" --arch resnet20 --preset small --image-size 16 --batch-size 16
   --lr 0.05 --epochs 2 --threads 1 --workers 1)
expect_ok lt-train -q "${T[@]}" -o "$WORK/model.h5"
E=(--model "$WORK/model.h5" --list "$D/val.txt" --root "$D" --threads 1 --workers 1)

# LibTorch convolves in bf16 with oneDNN only on a CPU with AVX-512 (bw, vl,
# dq); elsewhere lt warns that bf16 is slow there, and runs it all the same.
onednn_bf16=yes
for flag in avx512bw avx512vl avx512dq; do grep -qw "$flag" /proc/cpuinfo || onednn_bf16=no; done
[[ $(uname -m) == x86_64 ]] || onednn_bf16=yes
expect_bf16() {
    if [[ $onednn_bf16 == yes ]]; then
        expect_ok "$@"
    else
        expect_logged "$@"
        expect_grep "warning: --amp bf16: this CPU lacks AVX-512 .*about 10x slower than float32" "$LT_STDERR"
        expect_lines "$LT_STDERR" 1
    fi
}

section "lt-extract --amp bf16 on the cpu: float32 features within bf16's rounding of float32's"
expect_ok lt-extract -q "${E[@]}" -o "$WORK/fp32.h5"
expect_bf16 lt-extract -q "${E[@]}" --amp bf16 -o "$WORK/bf16.h5"
/usr/bin/python3 - "$WORK/fp32.h5" "$WORK/bf16.h5" <<'PY' || fail "bf16 features"
import sys, h5py, numpy as np
exact, low = h5py.File(sys.argv[1], "r")["features"], h5py.File(sys.argv[2], "r")["features"]
assert low.dtype == np.float32 and low.shape == exact.shape, (low.dtype, low.shape)
exact, low = exact[()], low[()]
relative = np.abs(low - exact).max() / np.abs(exact).max()
print(f"bf16 against float32 features: max relative difference {relative:.2e}")
assert 0 < relative < 5e-2, relative  # bf16 keeps 8 bits of mantissa; 0 would mean autocast did nothing
PY

section "the cuda-only switches change nothing on the cpu; the same run twice gives the same file"
expect_logged lt-extract "${E[@]}" --no-tf32 --deterministic -o "$WORK/switches.h5"
cmp "$WORK/fp32.h5" "$WORK/switches.h5" || fail "--no-tf32 --deterministic changed cpu features"
expect_bf16 lt-extract -q "${E[@]}" --amp bf16 -o "$WORK/bf16-again.h5"
cmp "$WORK/bf16.h5" "$WORK/bf16-again.h5" || fail "bf16 extraction is not reproducible"
expect_ok lt-extract -q "${E[@]}" --amp off -o "$WORK/off.h5"
cmp "$WORK/fp32.h5" "$WORK/off.h5" || fail "--amp off differs from the default"

section "lt-train --amp bf16 on the cpu trains, reproducibly, to a float32 model"
expect_bf16 lt-train -q "${T[@]}" --amp bf16 -o "$WORK/bf16-model.h5" --log "$WORK/bf16.jsonl"
expect_bf16 lt-train -q "${T[@]}" --amp bf16 -o "$WORK/bf16-model-again.h5"
cmp "$WORK/bf16-model.h5" "$WORK/bf16-model-again.h5" || fail "bf16 training is not reproducible"
cmp -s "$WORK/model.h5" "$WORK/bf16-model.h5" && fail "--amp bf16 trained the float32 model"
/usr/bin/python3 - "$WORK/bf16-model.h5" "$WORK/bf16.jsonl" <<'PY' || fail "bf16 model"
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
floats = []
f.visititems(lambda name, item: floats.append((name, item.dtype)) if isinstance(item, h5py.Dataset)
             and item.dtype.kind == "f" else None)
assert floats and all(dtype == np.float32 for _, dtype in floats), [x for x in floats if x[1] != np.float32]
losses = [json.loads(line)["loss"] for line in open(sys.argv[2])]
assert len(losses) == 2 and all(np.isfinite(losses)), losses
PY
expect_ok lt-train -q "${T[@]}" --no-tf32 --deterministic -o "$WORK/switches-model.h5"
cmp "$WORK/model.h5" "$WORK/switches-model.h5" || fail "--no-tf32 --deterministic changed cpu training"

section "--amp fp16 needs cuda; unknown values are usage errors"
expect_fail 2 "--amp fp16 needs --device cuda.*hint: use --amp bf16" "$WORK/fp16.h5" -- \
    lt-extract "${E[@]}" --amp fp16 --device cpu -o "$WORK/fp16.h5"
expect_fail 2 "--amp fp16 needs --device cuda" "$WORK/fp16-model.h5" -- \
    lt-train "${T[@]}" --amp fp16 --device cpu -o "$WORK/fp16-model.h5"
expect_fail 2 "--amp" "$WORK/x.h5" -- lt-extract "${E[@]}" --amp fp8 -o "$WORK/x.h5"

if [[ $onednn_bf16 == yes ]]; then
    section "a oneDNN that cannot convolve in bf16 (held to AVX2) is told before any batch"
    export ONEDNN_MAX_CPU_ISA=AVX2
    expect_fail 1 "--amp bf16: this CPU's LibTorch cannot convolve in bf16 .*hint: use --amp off" "$WORK/avx2.h5" -- \
        lt-extract "${E[@]}" --amp bf16 -o "$WORK/avx2.h5"
    expect_fail 1 "--amp bf16: this CPU's LibTorch cannot convolve in bf16" "$WORK/avx2.h5" -- \
        lt-train "${T[@]}" --amp bf16 -o "$WORK/avx2.h5"
    expect_ok lt-extract -q "${E[@]}" -o "$WORK/avx2.h5"  # float32 needs no AVX-512
    unset ONEDNN_MAX_CPU_ISA
fi
echo "amp: ok"

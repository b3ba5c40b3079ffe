#!/usr/bin/env bash
# Numeric edge cases (man/lt-h5.5 "Numeric edge cases"), each checked against
# a closed form computed here in numpy, or against its documented error:
#   zero-norm features and weights   a zero vector has cosine 0 with every
#                                    vector; it adds a zero vector to a mean
#   single-sample classes            the prototype is that sample, normalised
#   k = the largest count            exit 1 (no source class); k = largest-1
#                                    leaves exactly the largest class
#   huge / tiny / zero tau           attention one-hot / uniform; never NaN
#   float64 input                    the same results as float32 input of the
#                                    same values; values beyond float32 range
#                                    are refused (exit 1), not turned into Inf
source "$(dirname "$0")/../lib/cli.sh"
. "$LT_SRC/tests/ref/env.sh" lt-protos lt-attend lt-eval lt-compat
export LT_PROVENANCE=fixed

"$PY" - "$WORK" <<'PY' || fail "writing the inputs"
import sys, h5py, numpy as np
work = sys.argv[1]
def features(name, X, y, dtype="f4"):
    with h5py.File(f"{work}/{name}", "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "features"
        f["features"] = np.asarray(X, dtype=dtype); f["labels"] = np.asarray(y, dtype="i8")
def classifier(name, W, ids, counts, scale=10.0):
    with h5py.File(f"{work}/{name}", "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "classifier"
        f["weights"] = np.asarray(W, dtype="f4"); f["class_ids"] = np.asarray(ids, dtype="i8")
        f["class_counts"] = np.asarray(counts, dtype="i8"); f.attrs["scale"] = scale
# class 0: 3 samples, one of them zero; class 1: one sample (single-sample);
# class 2: 4 samples; class 3: only a zero sample.
X = np.array([[3, 4, 0], [0, 0, 0], [0, 2, 0],   # class 0
              [0, 0, -5],                          # class 1
              [1, 0, 0], [2, 0, 0], [1, 1, 0], [4, 0, 0],  # class 2
              [0, 0, 0]], dtype=np.float64)        # class 3
y = [0, 0, 0, 1, 2, 2, 2, 2, 3]
features("train.h5", X, y)
features("train64.h5", X + 1e-9, y, "f8")  # float64 values that need rounding
features("train32.h5", (X + 1e-9).astype("f4"), y)
big = X.copy(); big[4, 0] = 1e39
features("beyond.h5", big, y, "f8")
# classifier: class 2's weights are zero
classifier("clf.h5", [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], [0, 1, 2, 3], [3, 1, 4, 1])
# test features: a zero row, and rows close to each classifier class
features("test.h5", [[0, 0, 0], [5, 0.1, 0], [0.1, 3, 0], [0, 0.2, 7]], [0, 0, 1, 3])
PY

section "zero-norm and single-sample classes: prototypes by hand"
expect_ok lt-protos -q "$WORK/train.h5" -o "$WORK/protos.h5"
"$PY" - "$WORK/protos.h5" <<'PY' || fail "prototypes differ from the hand computation"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
P, ids, counts = f["prototypes"][:], f["class_ids"][:], f["counts"][:]
expected = {0: np.array([0.6, 0.8 + 1.0, 0]) / 3,  # unit(3,4,0) + zero + unit(0,2,0), over 3
            1: np.array([0, 0, -1.0]),              # single sample: itself, normalised
            2: np.array([1 + 1 + 2 ** -0.5 + 1, 2 ** -0.5, 0]) / 4,
            3: np.zeros(3)}                         # only a zero sample: zero prototype
assert list(ids) == [0, 1, 2, 3] and list(counts) == [3, 1, 4, 1], (ids, counts)
for row, cid in enumerate(ids):
    assert np.allclose(P[row], expected[cid], atol=1e-6), (cid, P[row], expected[cid])
assert np.isfinite(P).all()
PY

section "zero-norm features and weights in lt-eval: cosine 0, never NaN"
expect_ok lt-eval -q "$WORK/test.h5" "$WORK/clf.h5" --predictions "$WORK/pred.h5" --format json
"$PY" - "$WORK/pred.h5" <<'PY' || fail "predictions with zero vectors"
import sys, h5py, numpy as np
p = h5py.File(sys.argv[1], "r")["predictions"][0]
# row 0 is zero: every logit is 0, the tie goes to the first class id (0);
# rows 1-3 are nearest to classes 0, 1 and 3; class 2 (zero weights) scores 0
# and wins nothing while other logits are positive.
assert list(p) == [0, 0, 1, 3], list(p)
PY

section "k = the largest count is refused; k = largest - 1 keeps only the largest class"
expect_fail 1 "-k 4 leaves no source class: every classifier class has at most 4 training samples" "$WORK/k4.h5" -- \
    lt-attend --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" -k 4 -o "$WORK/k4.h5"
expect_ok lt-attend -q --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" -k 3 --mode p2w --terms kt -o "$WORK/k3.h5"
"$PY" - "$WORK/k3.h5" <<'PY' || fail "k = largest - 1"
import sys, h5py, numpy as np
W = h5py.File(sys.argv[1], "r")["weights"][:]
# one source (class 2, whose weights are zero): every transferred vector is
# zero, and stays zero after normalisation (no NaN).
assert np.isfinite(W).all() and np.abs(W).max() == 0, W
PY

section "tau: huge = one-hot attention, tiny = uniform = tau 0; finite throughout"
for tau in 1e300 1e6 1e-300 0; do
    expect_ok lt-attend -q --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" -k 0 --mode p2w --terms kt \
        --tau "$tau" -o "$WORK/tau-$tau.h5"
done
"$PY" - "$WORK" <<'PY' || fail "tau limits"
import sys, h5py, numpy as np
w = lambda t: h5py.File(f"{sys.argv[1]}/tau-{t}.h5", "r")["weights"][:]
for t in ("1e300", "1e6", "1e-300", "0"):
    assert np.isfinite(w(t)).all(), t
# queries: normalised prototypes; sources: classes with more than 0 samples
# (all four), values: normalised weights [e0, e1, 0, e2].
P = np.array([[0.6, 1.8, 0], [0, 0, -1], [3 + 2 ** -0.5, 2 ** -0.5, 0], [0, 0, 0]])
Q = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
V = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1.0]])
def composed(alpha):
    T = alpha @ V
    return T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
uniform = composed(np.full((4, 4), 0.25))
assert np.allclose(w("0"), uniform, atol=1e-6) and np.array_equal(w("0"), w("1e-300"))
S = Q @ V.T
onehot = np.zeros((4, 4))
for i in range(4):
    best = np.flatnonzero(S[i] == S[i].max())
    onehot[i, best] = 1 / len(best)   # ties share the attention equally
assert np.allclose(w("1e300"), composed(onehot), atol=1e-6), (w("1e300"), composed(onehot))
assert np.allclose(w("1e6"), w("1e300"), atol=1e-6)
PY
expect_fail 2 "--tau" "$WORK/x.h5" -- lt-attend --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --tau inf -o "$WORK/x.h5"
expect_fail 2 "--tau" "$WORK/x.h5" -- lt-attend --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --tau -1 -o "$WORK/x.h5"

section "float64 input: the same prototypes as float32 input of the same values"
expect_ok lt-protos -q "$WORK/train64.h5" -o "$WORK/p64.h5"
expect_ok lt-protos -q "$WORK/train32.h5" -o "$WORK/p32.h5"
"$PY" - "$WORK/p64.h5" "$WORK/p32.h5" <<'PY' || fail "float64 and float32 inputs differ"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["prototypes"][:] for p in sys.argv[1:])
assert np.array_equal(a, b), np.abs(a - b).max()
PY
expect_fail 1 "beyond\.h5:/features holds a non-finite value \(NaN, Inf, or a float64 beyond float32 range\) in row 4" \
    "$WORK/x.h5" -- lt-protos "$WORK/beyond.h5" -o "$WORK/x.h5"
echo "numeric-edges.sh: every edge case behaves as documented"

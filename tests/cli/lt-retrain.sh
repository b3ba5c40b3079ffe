#!/usr/bin/env bash
# lt-retrain on generated long-tailed features (tests/ref/baselines.py
# longtail): starting from heads trained with instance sampling (biased to
# the many-shot classes, as joint training leaves them), cRT and LWS raise
# few-shot accuracy, for linear and cosine heads; the same seed gives the
# same file; bad input.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2>/dev/null || { echo "SKIP: no python3-numpy/python3-h5py"; exit 77; }
REF="$LT_SRC/tests/ref"
D="$WORK/lt"
"$PY" "$REF/baselines.py" longtail "$D"
"$PY" "$REF/baselines.py" linear "$D/linear.h5" "$D/train.h5"
lt-protos "$D/train.h5" -o "$D/cosine.h5"
export LT_PROVENANCE=fixed

# Column of a group in lt-eval's tsv (row 2 = the first classifier).
few_of() { awk -F'\t' -v row="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "few") c = i } NR == row { print $c }' "$1"; }
above() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN { exit !(a >= b + m) }'; }

for kind in linear cosine; do
    section "$kind: cRT and LWS lift few-shot accuracy over their start"
    expect_ok lt-retrain "$D/train.h5" --classifier "$D/$kind.h5" --method crt --sampler instance -o "$D/joint-$kind.h5"
    for method in crt lws; do
        expect_ok lt-retrain "$D/train.h5" --classifier "$D/joint-$kind.h5" --method $method -o "$D/$method-$kind.h5"
    done
    expect_ok lt-eval "$D/test.h5" "$D/joint-$kind.h5" "$D/crt-$kind.h5" "$D/lws-$kind.h5" --format tsv
    cp "$LT_STDOUT" "$D/$kind.tsv"
    joint=$(few_of "$D/$kind.tsv" 2) crt=$(few_of "$D/$kind.tsv" 3) lws=$(few_of "$D/$kind.tsv" 4)
    echo "few-shot: joint $joint, cRT $crt, LWS $lws"
    above "$crt" "$joint" 10 || fail "$kind: cRT few-shot $crt is not 10 points above the start's $joint"
    above "$lws" "$joint" 10 || fail "$kind: LWS few-shot $lws is not 10 points above the start's $joint"
    "$PY" - "$D/joint-$kind.h5" "$D/crt-$kind.h5" "$D/lws-$kind.h5" $kind <<'PY' || fail "$kind: the output's layout"
import sys, h5py, numpy as np
joint, crt, lws = (h5py.File(p, "r") for p in sys.argv[1:4])
kind = sys.argv[4]
for f in (crt, lws):
    assert f.attrs["kind"] == kind and (f["class_ids"][()] == joint["class_ids"][()]).all()
    assert (f["class_counts"][()] == joint["class_counts"][()]).all()
assert crt.attrs["adjust"] == "crt" and lws.attrs["adjust"] == "lws"
if kind == "cosine":
    # LWS keeps the rows and learns one scale per class.
    assert lws.attrs["version"] == 2 and np.allclose(lws["weights"][()], joint["weights"][()])
    assert lws["class_scales"].shape == (joint["weights"].shape[0],)
else:
    # Linear rows scaled by g_j: each row parallel to the start's.
    a, b = lws["weights"][()], joint["weights"][()]
    g = (a * b).sum(1) / (b * b).sum(1)
    assert np.allclose(a, g[:, None] * b, atol=1e-5) and np.allclose(lws["bias"][()], g * joint["bias"][()], atol=1e-5)
PY
done

section "the same seed gives the same file; another seed another"
for method in crt lws; do
    expect_ok lt-retrain "$D/train.h5" --classifier "$D/joint-cosine.h5" --method $method -o "$D/again.h5"
    cmp -s "$D/again.h5" "$D/$method-cosine.h5" || fail "$method: the same seed gave another file"
    expect_ok lt-retrain "$D/train.h5" --classifier "$D/joint-cosine.h5" --method $method --seed 1 -o "$D/seed1.h5"
    cmp -s "$D/seed1.h5" "$D/$method-cosine.h5" && fail "$method: --seed 1 gave the file of seed 0"
done

section "options and pipes"
expect_ok lt-retrain "$D/train.h5" --classifier "$D/linear.h5" --method lws --sampler sqrt --epochs 2 --lr 0.05 \
    --batch-size 64 --weight-decay 0 -o "$D/options.h5"
lt-retrain - --classifier "$D/joint-cosine.h5" -o - -q <"$D/train.h5" | lt-eval "$D/test.h5" - >/dev/null ||
    fail "lt-retrain in a pipe"

section "a class without feature rows is warned of"
"$PY" - "$D/train.h5" "$D/train-no-0.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2], "w") as g:
    keep = f["labels"][()] != 0
    g.attrs.update(f.attrs)
    g["features"], g["labels"] = f["features"][()][keep], f["labels"][()][keep]
EOF
for method in crt lws; do
    expect_logged lt-retrain "$D/train-no-0.h5" --classifier "$D/cosine.h5" --method $method --epochs 1 -o "$D/no-0.h5"
    expect_grep "warning: 1 of the classifier's [0-9]+ classes have no feature row \(class 0\); --method $method" "$LT_STDERR"
done

section "a rate that drives cRT's cosine scale below 0.01 leaves it there, with a warning"
# It went negative, and the run ended in "training diverged".
expect_logged lt-retrain "$D/train.h5" --classifier "$D/cosine.h5" --method crt --lr 10 -o "$D/held.h5"
expect_grep "^lt-retrain: warning: epoch [0-9]+: a step took the cosine head's scale below 0\.01, where it is held \(--lr 10 may be too high for batches of [0-9]+\)$" "$LT_STDERR"
"$PY" -c 'import sys, h5py; s = h5py.File(sys.argv[1]).attrs["scale"]; assert s >= 0.0099, s' "$D/held.h5" ||
    fail "the held scale"

section "bad input"
lt-ensemble "$D/crt-cosine.h5" "$D/lws-cosine.h5" -o "$D/ensemble.h5"
expect_fail 1 'is an ensemble of 2 classifiers; lt-retrain takes one' "$D/x.h5" -- \
    lt-retrain "$D/train.h5" --classifier "$D/ensemble.h5" -o "$D/x.h5"
"$PY" "$REF/gen.py" data "$WORK/other" >/dev/null
expect_fail 1 'dimension mismatch: the features have dimension 32, the classifier 16' "$D/x.h5" -- \
    lt-retrain "$WORK/other/train.h5" --classifier "$D/cosine.h5" -o "$D/x.h5"
expect_fail 2 'method' "$D/x.h5" -- lt-retrain "$D/train.h5" --classifier "$D/cosine.h5" --method svm -o "$D/x.h5"
expect_fail 2 'sampler' "$D/x.h5" -- lt-retrain "$D/train.h5" --classifier "$D/cosine.h5" --sampler class-aware -o "$D/x.h5"
expect_fail 2 'epochs' "$D/x.h5" -- lt-retrain "$D/train.h5" --classifier "$D/cosine.h5" --epochs 0 -o "$D/x.h5"
expect_fail 2 'stdin' "$D/x.h5" -- lt-retrain - --classifier - -o "$D/x.h5"
expect_fail 1 'cannot open' "$D/x.h5" -- lt-retrain "$D/none.h5" --classifier "$D/cosine.h5" -o "$D/x.h5"
# (A linear head: a cosine one is first warned of, its scale being held.)
expect_fail 1 'training diverged \(hint: lower --lr\)' "$D/x.h5" -- \
    lt-retrain "$D/train.h5" --classifier "$D/linear.h5" --lr 1e30 -o "$D/x.h5"
expect_fail 2 "--lr: 'inf' is not a finite number" "$D/x.h5" -- \
    lt-retrain "$D/train.h5" --classifier "$D/cosine.h5" --lr inf -o "$D/x.h5"
echo "lt-retrain: ok"

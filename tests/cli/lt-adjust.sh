#!/usr/bin/env bash
# lt-adjust against NumPy (tests/ref/baselines.py, written from the equations):
# tau-normalisation and logit adjustment of cosine, linear, model and
# prototypes inputs, read by lt-eval, lt-ensemble and lt-compat; lists with
# {p}/{t}; the version-2 cosine classifier; bad input.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2>/dev/null || { echo "SKIP: no python3-numpy/python3-h5py"; exit 77; }
REF="$LT_SRC/tests/ref"
D="$WORK/d"
"$PY" "$REF/gen.py" data "$D" >/dev/null
"$PY" "$REF/baselines.py" linear "$WORK/linear.h5" "$D/train.h5"
lt-protos "$D/train.h5" -o "$WORK/protos.h5"
check() { "$PY" "$REF/baselines.py" "$@" || fail "baselines.py $*"; }

# One lt-adjust call per input with the values 0, 0.5, 1, 2 of OPTION (-p or
# -T, output names NAME-<stem><value>.h5); every output against the equations.
sweep_checked() {
    local input=$1 option=$2 placeholder=$3 stem=$4 equation=$5 name value
    name=$(basename "$input" .h5)
    expect_ok lt-adjust --classifier "$input" "$option" 0,0.5,1,2 -o "$WORK/$name-$stem$placeholder.h5"
    for value in 0 0.5 1 2; do
        check adjust "$WORK/$name-$stem$value.h5" "$input" "$D/test.h5" "$equation" $value
        expect_ok lt-eval "$D/test.h5" "$WORK/$name-$stem$value.h5" --format tsv
        check eval-tsv "$LT_STDOUT" "$input" "$D/test.h5" "$equation" $value
    done
}

section "tau-normalisation: cosine, linear, model, prototypes; one file per P"
for input in "$D/clf.h5" "$WORK/linear.h5" "$D/model.h5" "$WORK/protos.h5"; do
    sweep_checked "$input" -p '{p}' tau --tau-norm
done
# P = 1 leaves a cosine classifier's predictions as they were, P = 0 does not.
expect_ok lt-eval "$D/test.h5" "$D/clf.h5" "$WORK/clf-tau1.h5" --format tsv
[ "$(sed -n 2p "$LT_STDOUT" | cut -f2-)" = "$(sed -n 3p "$LT_STDOUT" | cut -f2-)" ] || fail "tau-norm 1 changed a cosine classifier"

section "logit adjustment: training counts, an lt-h5 prior, a text prior"
awk '{ print $1, ($2 % 7) + 1 }' "$D/meta.txt" >"$WORK/prior.txt"
for input in "$D/clf.h5" "$WORK/linear.h5"; do
    sweep_checked "$input" -T '{t}' la --logit-adjust
    name=$(basename "$input" .h5)
    for prior in "$WORK/prior.txt" "$D/test.h5"; do
        expect_ok lt-adjust --classifier "$input" -T 1.5 --prior "$prior" -o "$WORK/$name-prior.h5"
        check adjust "$WORK/$name-prior.h5" "$input" "$D/test.h5" --logit-adjust 1.5 --prior "$prior"
    done
done
# On this long tail, adjustment moves accuracy from the many-shot to the few-shot classes.
expect_ok lt-eval "$D/test.h5" "$D/clf.h5" "$WORK/clf-la1.h5" --format tsv
few_before=$(awk -F'\t' 'NR == 2 { print $4 }' "$LT_STDOUT")
few_after=$(awk -F'\t' 'NR == 3 { print $4 }' "$LT_STDOUT")
awk -v a="$few_after" -v b="$few_before" 'BEGIN { exit !(a > b) }' || fail "logit adjustment did not raise few-shot accuracy ($few_before -> $few_after)"

section "the version-2 cosine classifier: written only when needed, read by every consumer"
"$PY" - "$WORK/clf-la1.h5" "$WORK/clf-tau0.5.h5" "$WORK/clf-la0.h5" "$WORK/linear-tau1.h5" <<'PY' || fail "version attributes"
import sys, h5py
la, tau, la0, lin = (h5py.File(p, "r") for p in sys.argv[1:])
assert la.attrs["version"] == 2 and "bias" in la and "class_scales" not in la
assert tau.attrs["version"] == 2 and "class_scales" in tau and "bias" not in tau
assert la0.attrs["version"] == 2  # T = 0: a zero bias, still an adjusted classifier
assert "version" not in lin and lin.attrs["kind"] == "linear"
assert la.attrs["adjust"] == "logit-adjust" and la.attrs["t"] == 1
PY
expect_ok lt-ensemble "$WORK/clf-la1.h5" "$WORK/clf-tau0.5.h5" "$WORK/linear-la1.h5" -o "$WORK/ensemble.h5"
expect_ok lt-eval "$D/test.h5" "$WORK/ensemble.h5"
expect_ok lt-compat --classifier "$WORK/clf-tau0.5.h5" --protos "$WORK/protos.h5" --mismatch
expect_ok lt-info "$WORK/clf-la1.h5"
expect_grep 'adjust: logit-adjust' "$LT_STDOUT"
# A classifier of a future version is refused by name.
cp "$WORK/clf-la1.h5" "$WORK/future.h5"
"$PY" -c 'import sys, h5py; h5py.File(sys.argv[1], "a").attrs["version"] = 3' "$WORK/future.h5"
expect_fail 1 'classifier of version 3; this lt reads up to version 2' -- lt-eval "$D/test.h5" "$WORK/future.h5"

section "pipes"
lt-adjust --classifier "$D/clf.h5" -T 1 -o - | lt-eval "$D/test.h5" - --format tsv >"$WORK/piped.tsv"
check eval-tsv "$WORK/piped.tsv" "$D/clf.h5" "$D/test.h5" --logit-adjust 1

section "bad input"
expect_fail 2 'give one of --tau-norm' "$WORK/x.h5" -- lt-adjust --classifier "$D/clf.h5" -o "$WORK/x.h5"
expect_fail 2 'excludes' "$WORK/x.h5" -- lt-adjust --classifier "$D/clf.h5" -p 1 -T 1 -o "$WORK/x.h5"
expect_fail 2 "'-1' is not a finite number >= 0" "$WORK/x.h5" -- lt-adjust --classifier "$D/clf.h5" -p -1 -o "$WORK/x.h5"
expect_fail 2 'is given twice' "$WORK/x1.h5" -- lt-adjust --classifier "$D/clf.h5" -T 1,1 -o "$WORK/x{t}.h5"
expect_fail 2 '-o must contain \{p\}' "$WORK/x.h5" -- lt-adjust --classifier "$D/clf.h5" -p 0,1 -o "$WORK/x.h5"
expect_fail 2 '--prior requires --logit-adjust' "$WORK/x.h5" -- lt-adjust --classifier "$D/clf.h5" -p 1 --prior "$WORK/prior.txt" -o "$WORK/x.h5"
expect_fail 1 'is an ensemble of 3 classifiers; lt-adjust takes one' "$WORK/x.h5" -- \
    lt-adjust --classifier "$WORK/ensemble.h5" -p 1 -o "$WORK/x.h5"
head -n 3 "$WORK/prior.txt" >"$WORK/short-prior.txt"
expect_fail 1 'the prior has no value for class' "$WORK/x0.h5" "$WORK/x1.h5" -- \
    lt-adjust --classifier "$D/clf.h5" -T 0,1 --prior "$WORK/short-prior.txt" -o "$WORK/x{t}.h5"
printf '%s\n' "$(head -n 1 "$WORK/prior.txt" | cut -d' ' -f1) oops" >"$WORK/bad-prior.txt"
expect_fail 1 'bad-prior.txt:1: expected' "$WORK/x.h5" -- \
    lt-adjust --classifier "$D/clf.h5" -T 1 --prior "$WORK/bad-prior.txt" -o "$WORK/x.h5"
expect_fail 1 'cannot open' "$WORK/x.h5" -- lt-adjust --classifier "$WORK/none.h5" -p 1 -o "$WORK/x.h5"
echo "lt-adjust: ok"

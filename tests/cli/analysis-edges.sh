#!/usr/bin/env bash
# Edge cases of lt-compat and lt-project (man/lt-compat.1, man/lt-project.1),
# each against a computation made here in numpy or the documented message:
#   equal classifier rows      a tie with the own row is a match; neighbours
#                              tie (tau 0, equal rows) in class id order,
#                              whatever the classifier's row order
#   classes without samples    never attention neighbours; all counts 0 is an
#                              error naming --neighbours (lt-compat has no -k)
#   --neighbours N > sources   the sources are listed, with a warning
#   a single class             lt-project shows it alone, with a warning
#   ulimit -v / prlimit --as  too small for a work buffer per thread: fewer
#                              threads with a warning (OpenBLAS would hang)
#   --final without a class    lt-project shows no final point for it, with a
#                              warning
source "$(dirname "$0")/../lib/cli.sh"
. "$LT_SRC/tests/ref/env.sh" lt-compat lt-project

"$PY" - "$WORK" <<'PY' || fail "writing the inputs"
import sys, h5py, numpy as np
work = sys.argv[1]
def write(name, lt_type, **data):
    with h5py.File(f"{work}/{name}", "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = lt_type
        if lt_type == "classifier": f.attrs["scale"] = 16.0
        for key, value in data.items(): f[key] = value
rng = np.random.default_rng(7)
W = rng.standard_normal((5, 6)).astype("f4")
W[3] = W[1]                       # classes 20 and 40: the same row
P = (W + 0.3 * rng.standard_normal(W.shape)).astype("f4")
P[0] = W[1]                       # class 10's prototype is the row of 20 and 40
ids = np.array([10, 20, 30, 40, 50]); counts = np.array([5, 5, 5, 5, 0])   # class 50: no sample
order = [3, 4, 1, 2, 0]           # the same classifier, rows in another order
write("clf.h5", "classifier", weights=W[order], class_ids=ids[order], class_counts=counts[order])
write("protos.h5", "prototypes", prototypes=P, class_ids=ids, counts=np.full(5, 3))
write("clf_no_counts.h5", "classifier", weights=W, class_ids=ids, class_counts=np.zeros(5, "i8"))
write("clf_one.h5", "classifier", weights=W[:1], class_ids=ids[:1], class_counts=counts[:1])
write("protos_one.h5", "prototypes", prototypes=P[:1], class_ids=ids[:1], counts=[3])
write("feats.h5", "features", features=np.repeat(P, 3, axis=0) + 0.05 * rng.standard_normal((15, 6)).astype("f4"),
      labels=np.repeat(ids, 3))

# The reference: cosines in float64, the own row matches on a tie; the
# neighbours are the classes with n > 0, by cosine, ties by class id.
unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
S = unit(P.astype("f8")) @ unit(W.astype("f8")).T
with open(f"{work}/mismatch.want", "w") as out:
    for r, c in enumerate(ids):
        if S[r, r] < S[r].max() - 1e-9:
            out.write("%d\n" % c)
with open(f"{work}/neighbours.want", "w") as out:
    src = [j for j in range(5) if counts[j] > 0]
    for r, c in enumerate(ids):
        ranked = sorted(src, key=lambda j: (-round(S[r, j], 6), ids[j]))
        out.write("".join("%d\t%d\t%d\n" % (c, k + 1, ids[j]) for k, j in enumerate(ranked)))
PY

section "ties: the own row, then class ids"
expect_ok lt-compat --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --mismatch
tail -n +3 "$LT_STDOUT" | cut -f1 >"$WORK/mismatch.got"
diff "$WORK/mismatch.want" "$WORK/mismatch.got" || fail "mismatched classes differ from numpy"
expect_equal "$(head -n 1 "$LT_STDOUT")" "mismatches	$(wc -l <"$WORK/mismatch.want")	5" "the mismatch line"

section "--neighbours N beyond the sources: the sources, a warning"
expect_logged lt-compat --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --neighbours 9 --tau 0
expect_grep '^lt-compat: warning: --neighbours 9: only 4 classifier classes have a training sample' "$LT_STDERR"
tail -n +2 "$LT_STDOUT" | cut -f1-3 >"$WORK/neighbours.got"
diff "$WORK/neighbours.want" "$WORK/neighbours.got" || fail "neighbours (tau 0: by cosine, ties by class id) differ from numpy"
expect_ok lt-compat --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --neighbours 4 --tau 0

section "no class with a training sample"
expect_fail 1 '^lt-compat: error: --neighbours: no classifier class has a training sample' -- \
    lt-compat --classifier "$WORK/clf_no_counts.h5" --protos "$WORK/protos.h5" --neighbours 2
expect_fail 1 'no classifier class has a training sample' -- \
    lt-project --features "$WORK/feats.h5" --classifier "$WORK/clf_no_counts.h5" --protos "$WORK/protos.h5" --class 10

section "lt-project: a class without neighbours"
expect_logged lt-project --features "$WORK/feats.h5" --classifier "$WORK/clf_one.h5" --protos "$WORK/protos_one.h5" -k 0
expect_grep '^lt-project: warning: class 10 has only 0 attention neighbours, 2 asked' "$LT_STDERR"
expect_grep '^# classes: 10 \(few, n=5\)$' "$LT_STDOUT"
expect_logged lt-project --features "$WORK/feats.h5" --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" \
    --class 30 -k 0 --neighbours 9223372036854775807
expect_grep '^lt-project: warning: class 30 has only 3 attention neighbours' "$LT_STDERR"

section "lt-project: a --final without the classes shown"
expect_logged lt-project --features "$WORK/feats.h5" --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" \
    --class 30 -k 0 --neighbours 1 --final "$WORK/clf_one.h5"
expect_grep '^lt-project: warning: the final classifier has no row for class 30[,:]' "$LT_STDERR"
if grep -qE '^final	[0-9]+	30	' "$LT_STDOUT"; then fail "final points of classes the final classifier lacks"; fi

section "an address-space limit (prlimit --as) below OpenBLAS's buffers: fewer threads, not a hang"
# (Not under AddressSanitizer: it reserves terabytes of shadow memory.)
if [[ -n ${ASAN_OPTIONS:-} ]]; then
    echo "  (sanitizer build: skipped)"
elif ldd "$LT_BIN/lt-compat" | grep -q torch; then
    echo "skipped: this lt-compat loads LibTorch, whose mappings alone exceed the limits tried"
else
    for mib in 430 600; do
        code=0
        timeout 60 prlimit --as=$((mib << 20)) lt-compat --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" \
            --sharpness --threads 2 >"$WORK/limited.out" 2>"$WORK/limited.err" || code=$?
        [[ $code == 124 ]] && fail "lt-compat under a $mib MiB address-space limit hangs"
        [[ $code == 0 ]] || fail "lt-compat under a $mib MiB address-space limit: exit $code, $(cat "$WORK/limited.err")"
        expect_lines "$WORK/limited.out" 6
    done
fi
echo "ok"

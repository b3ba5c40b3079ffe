#!/usr/bin/env bash
# lt-protos over several features files and --merge of prototypes files,
# against numpy prototypes computed from all the features at once (to 1e-6);
# bad combinations: exit 1 (2 for usage), one error line, no output.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
G=$WORK/gen
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" >/dev/null || fail "gen.py data"

# Three parts of the training features (h5py, as a user would cut them): the
# first classes only in A, others spread over A, B and C; B with float [N, 1]
# labels; C in float64 and with unlabelled rows; and the reference
# prototypes of all rows at once.
"$PY" - "$G/train.h5" "$WORK" <<'PY' || fail "splitting the features"
import sys, h5py, numpy as np
src, out = h5py.File(sys.argv[1], "r"), sys.argv[2]
X, y = src["features"][()], src["labels"][()]
ids = np.unique(y)
only_a = np.isin(y, ids[:4])
rest = np.flatnonzero(~only_a)
parts = {"A": np.concatenate([np.flatnonzero(only_a), rest[0::3]]), "B": rest[1::3], "C": rest[2::3]}
for name, rows in parts.items():
    rows = np.sort(rows)
    with h5py.File(f"{out}/{name}.h5", "w") as f:
        f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="features")
        labels = y[rows].copy()
        feats = X[rows].astype(np.float64 if name == "C" else np.float32)
        if name == "C":  # unlabelled rows add nothing
            feats = np.vstack([feats, np.ones((5, X.shape[1]))])
            labels = np.concatenate([labels, -np.ones(5, np.int64)])
        f["features"] = feats
        # B's labels as h5py often gets them: a float64 column [N, 1]
        f["labels"] = labels.astype(np.float64).reshape(-1, 1) if name == "B" else labels
unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
with h5py.File(f"{out}/reference.h5", "w") as f:
    f["prototypes"] = np.stack([unit[y == c].mean(axis=0) for c in ids])
    f["class_ids"], f["counts"] = ids, np.array([(y == c).sum() for c in ids])
PY
cat >"$WORK/same.py" <<'PY'
import sys, h5py, numpy as np
got, ref = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(got["class_ids"][()], ref["class_ids"][()]), (got["class_ids"][()], ref["class_ids"][()])
assert np.array_equal(got["counts"][()], ref["counts"][()]), (got["counts"][()], ref["counts"][()])
error = np.abs(got["prototypes"][()] - ref["prototypes"][()]).max()
assert error < 1e-6, error
assert got.attrs["lt_type"] == "prototypes"
PY
same() { "$PY" "$WORK/same.py" "$1" "$WORK/reference.h5" || fail "$1 differs from numpy's prototypes of all rows"; }

section "several features files in one run equal all the features at once"
expect_ok lt-protos -q "$WORK/A.h5" "$WORK/B.h5" "$WORK/C.h5" -o "$WORK/abc.h5"
same "$WORK/abc.h5"
expect_ok lt-protos -q "$G/train.h5" -o "$WORK/all.h5"
same "$WORK/all.h5"
# the order of the files does not matter; one of them may come from a pipe
expect_ok lt-protos -q "$WORK/C.h5" - "$WORK/A.h5" -o "$WORK/cba.h5" <"$WORK/B.h5"
same "$WORK/cba.h5"
expect_ok lt-info --json "$WORK/abc.h5"
expect_grep "\"inputs\": \"$WORK/A.h5 \(features\); $WORK/B.h5 \(features\); $WORK/C.h5 \(features\)\"" "$LT_STDOUT"

section "--merge of per-part prototypes, weighted by counts, equals them too"
for part in A B C; do expect_ok lt-protos -q "$WORK/$part.h5" -o "$WORK/p$part.h5"; done
expect_ok lt-protos -q --merge "$WORK/pA.h5" "$WORK/pB.h5" "$WORK/pC.h5" -o "$WORK/merged.h5"
same "$WORK/merged.h5"
# merging in two steps, and a merge through a pipe
expect_ok lt-protos -q --merge "$WORK/pB.h5" "$WORK/pC.h5" -o "$WORK/pBC.h5"
lt-protos -q --merge "$WORK/pA.h5" "$WORK/pBC.h5" -o - | lt-protos -q --merge - -o "$WORK/merged2.h5" ||
    fail "lt-protos --merge through a pipe"
same "$WORK/merged2.h5"
# the merge can fail: without B's share the counts and means differ
expect_ok lt-protos -q --merge "$WORK/pA.h5" "$WORK/pC.h5" -o "$WORK/no-b.h5"
! "$PY" "$WORK/same.py" "$WORK/no-b.h5" "$WORK/reference.h5" 2>/dev/null || fail "a merge without B compares equal"

section "bad combinations: exit 1 (2 for usage), one error line, no output"
X=$WORK/x.h5
"$PY" "$LT_SRC/tests/ref/gen.py" bad "$WORK/bad" >/dev/null || fail "gen.py bad"
expect_fail 1 "feats_dim_plus1.h5 has dimension 17, .*A.h5 has 32" "$X" -- \
    lt-protos "$WORK/A.h5" "$WORK/bad/feats_dim_plus1.h5" -o "$X"
expect_fail 1 "protos_dim_plus1.h5 has dimension 17" "$X" -- \
    lt-protos --merge "$WORK/pA.h5" "$WORK/bad/protos_dim_plus1.h5" -o "$X"
expect_fail 1 "pA.h5 is a 'prototypes' file, expected features \(hint: --merge combines prototypes files\)" "$X" -- \
    lt-protos "$WORK/A.h5" "$WORK/pA.h5" -o "$X"
expect_fail 1 "A.h5 is a 'features' file, expected prototypes \(hint: without --merge" "$X" -- \
    lt-protos --merge "$WORK/pA.h5" "$WORK/A.h5" -o "$X"
expect_fail 1 "protos_zero_count.h5.*count 0" "$X" -- lt-protos --merge "$WORK/pA.h5" "$WORK/bad/protos_zero_count.h5" -o "$X"
cp "$WORK/bad/protos_huge_count.h5" "$WORK/huge2.h5"
expect_fail 1 "huge2.h5: class [0-9]+ has count 4611686018427387904; with the 4611686018427387904 merged before, that is more than a 64-bit count holds" "$X" -- \
    lt-protos --merge "$WORK/bad/protos_huge_count.h5" "$WORK/huge2.h5" -o "$X"
"$PY" -c '
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="features")
    f["features"], f["labels"] = np.ones((3, 32), np.float32), -np.ones(3, np.int64)' "$WORK/unlabelled.h5"
expect_fail 1 "unlabelled.h5, .*unlabelled.h5 have no labelled rows" "$X" -- \
    lt-protos "$WORK/unlabelled.h5" "$WORK/unlabelled.h5" -o "$X"
expect_fail 1 "feats_fractional_labels.h5:/labels holds 8.999999 at element 7, which is not a whole number" "$X" -- \
    lt-protos "$WORK/A.h5" "$WORK/bad/feats_fractional_labels.h5" -o "$X"
# Values HDF5 would alter silently (saturate, truncate) are refused; a filter
# this HDF5 lacks is named.
"$PY" -c '
import sys, h5py, numpy as np
def features(path, labels, version=1, **create):
    with h5py.File(path, "w") as f:
        f.attrs.update(lt_schema="lt-h5", lt_schema_version=version, lt_type="features")
        f["features"] = np.ones((len(labels), 32), np.float32)
        f.create_dataset("labels", data=labels, **create)
features(sys.argv[1] + "/u64.h5", np.array([0, 1, 2**63 + 7], np.uint64))
features(sys.argv[1] + "/u64-small.h5", np.array([0, 1, 1], np.uint64))
features(sys.argv[1] + "/version-1.5.h5", np.array([0, 1], np.int64), version=1.5)
features(sys.argv[1] + "/lzf.h5", np.zeros(4000, np.int64), compression="lzf")' "$WORK"
expect_fail 1 "u64.h5:/labels holds 9223372036854775815 at element 2, which is beyond 2\^63 - 1" "$X" -- \
    lt-protos "$WORK/u64.h5" -o "$X"
expect_ok lt-protos -q "$WORK/u64-small.h5" -o "$X"
rm -f "$X"
expect_fail 1 "attribute 'lt_schema_version' holds 1.5, which is not a whole number" "$X" -- \
    lt-protos "$WORK/version-1.5.h5" -o "$X"
expect_fail 1 "cannot read .*lzf.h5:/labels: it is compressed with the filter 'lzf' \(HDF5 filter 32000\), which this HDF5 library does not have" "$X" -- \
    lt-protos "$WORK/lzf.h5" -o "$X"
expect_fail 2 "standard input \('-'\) can be given once" "$X" -- lt-protos - - -o "$X"
expect_fail 2 "inputs is required" "$X" -- lt-protos -o "$X"
echo "lt-protos: all checks passed"

#!/usr/bin/env bash
# Blocked computation changes nothing: lt-eval, lt-attend, lt-compat and
# lt-project give the same outputs with tiny blocks (--block-rows) as with
# the default ones, and lt-eval and lt-compat --mismatch the same with the
# bfloat16 screen as in float32 throughout (LT_BF16=0), on 200 generated
# classes (the screen scores classifiers of 64 classes or more, on CPUs
# with AVX512-BF16).
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$LT_SRC/tests/ref/env.sh" lt-protos lt-attend lt-eval lt-compat lt-project
ENV_WORK=$WORK
source "$(dirname "$0")/../lib/cli.sh"
rm -rf "$ENV_WORK"
export LT_PROVENANCE=fixed
G=$WORK/gen
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" --classes 200 --dim 48 >/dev/null || fail "gen.py data"
expect_ok lt-protos -q "$G/train.h5" -o "$WORK/p.h5"

same() {  # same WHAT FILE FILE: identical
  cmp -s "$2" "$3" || fail "$1: $(diff "$2" "$3" | head -n 6)"
}
close() {  # close WHAT FILE FILE: the same cells, numbers within 1e-6 (float32 products
           # of a block of 3 rows and of 4096 need not round alike)
  "$PY" - "$2" "$3" <<'PY' || fail "$1"
import sys
a, b = (open(p).read().split("\n") for p in sys.argv[1:])
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for u, v in zip(x.split("\t"), y.split("\t")):
        try:
            assert abs(float(u) - float(v)) <= 1e-6 * max(1, abs(float(u))), (u, v)
        except ValueError:
            assert u == v, (u, v)
PY
}

section "lt-eval: tiny blocks, the screen or float32: the same table and predictions"
for format in tsv json; do
  expect_ok lt-eval -q "$G/test.h5" "$G/clf.h5" "$WORK/p.h5" --format $format --predictions "$WORK/pred-a.h5"
  cp "$LT_STDOUT" "$WORK/a.$format"
  expect_ok lt-eval -q "$G/test.h5" "$G/clf.h5" "$WORK/p.h5" --format $format --block-rows 3 --predictions "$WORK/pred-b.h5"
  same "lt-eval --block-rows 3 --format $format" "$WORK/a.$format" "$LT_STDOUT"
  expect_ok env LT_BF16=0 lt-eval -q "$G/test.h5" "$G/clf.h5" "$WORK/p.h5" --format $format --predictions "$WORK/pred-c.h5"
  same "lt-eval in float32 --format $format" "$WORK/a.$format" "$LT_STDOUT"
  "$PY" - "$WORK" <<'PY' || fail "predictions differ"
import sys, h5py, numpy as np
w = sys.argv[1]
a, b, c = (h5py.File(f"{w}/pred-{x}.h5")["predictions"][:] for x in "abc")
assert np.array_equal(a, b) and np.array_equal(a, c)
PY
done
expect_ok lt-eval -q "$G/test.h5" "$G/clf.h5" --within-group --format json
cp "$LT_STDOUT" "$WORK/within-a.json"
expect_ok env LT_BF16=0 lt-eval -q "$G/test.h5" "$G/clf.h5" --within-group --format json --block-rows 5
same "lt-eval --within-group in float32, blocks of 5" "$WORK/within-a.json" "$LT_STDOUT"

section "lt-attend: blocks of 1 and 7 classes give the default's rows"
expect_ok lt-attend -q --classifier "$G/clf.h5" --protos "$WORK/p.h5" -k 0,20 -o "$WORK/wh{k}.h5"
for block in 1 7; do
  expect_ok lt-attend -q --classifier "$G/clf.h5" --protos "$WORK/p.h5" -k 0,20 --block-rows $block -o "$WORK/b$block-{k}.h5"
  for k in 0 20; do
    "$PY" - "$WORK/wh$k.h5" "$WORK/b$block-$k.h5" <<'PY' || fail "lt-attend --block-rows $block, k=$k"
import sys, h5py, numpy as np
a, b = (h5py.File(p)["weights"][:] for p in sys.argv[1:])
assert np.abs(a - b).max() < 1e-6, np.abs(a - b).max()
PY
  done
done

section "lt-compat: blocks of 3 prototypes, the screen or float32"
for analysis in --mismatch --sharpness "--neighbours 4"; do
  expect_ok lt-compat -q --classifier "$G/clf.h5" --protos "$WORK/p.h5" $analysis
  cp "$LT_STDOUT" "$WORK/compat-a.tsv"
  expect_ok lt-compat -q --classifier "$G/clf.h5" --protos "$WORK/p.h5" $analysis --block-rows 3
  if [[ $analysis == --mismatch ]]; then check=same; else check=close; fi
  $check "lt-compat $analysis --block-rows 3" "$WORK/compat-a.tsv" "$LT_STDOUT"
  expect_ok env LT_BF16=0 lt-compat -q --classifier "$G/clf.h5" --protos "$WORK/p.h5" $analysis
  $check "lt-compat $analysis in float32" "$WORK/compat-a.tsv" "$LT_STDOUT"
done

section "lt-project: blocks of 7 feature rows"
expect_ok lt-project -q --features "$G/test.h5" --classifier "$G/clf.h5" --protos "$WORK/p.h5" --neighbours 3
cp "$LT_STDOUT" "$WORK/view-a.tsv"
expect_ok lt-project -q --features "$G/test.h5" --classifier "$G/clf.h5" --protos "$WORK/p.h5" --neighbours 3 --block-rows 7
close "lt-project --block-rows 7" "$WORK/view-a.tsv" "$LT_STDOUT"
section "a block that does not fit: lt's own error, naming --block-rows"
"$PY" - "$WORK" <<'PY' || fail "writing the wide inputs"
import sys, h5py, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
with h5py.File(f"{w}/many.h5", "w") as f:  # 50,000 rows x 20,000 classes: 4 GB of float32 scores at once
    f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="features")
    f["features"] = rng.standard_normal((50000, 4)).astype("f4")
    f["labels"] = rng.integers(0, 20000, 50000)
with h5py.File(f"{w}/wide.h5", "w") as f:
    f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="classifier", kind="cosine", scale=16.0)
    f["weights"] = rng.standard_normal((20000, 4)).astype("f4")
    f["class_ids"] = np.arange(20000)
    f["class_counts"] = np.full(20000, 50)
PY
# An address-space limit cannot be tested under AddressSanitizer: it reserves
# terabytes of shadow memory at start, and its allocator aborts instead of
# throwing when memory runs out.
if [[ -n ${ASAN_OPTIONS:-} ]]; then
    echo "  (sanitizer build: skipped)"
else
    # lt-eval in float32 under a 2 GB address space (a wrapper of the same name)
    mkdir -p "$WORK/limited"
    printf '#!/usr/bin/env bash\nulimit -v 2000000\nLT_BF16=0 exec "%s/lt-eval" "$@"\n' "$LT_BIN" >"$WORK/limited/lt-eval"
    chmod +x "$WORK/limited/lt-eval"
    expect_fail 1 "cannot allocate [0-9]+ MiB for a block of scores \(hint: use a smaller --block-rows\)" "$WORK/pred.h5" -- \
      "$WORK/limited/lt-eval" "$WORK/many.h5" "$WORK/wide.h5" --block-rows 50000 --predictions "$WORK/pred.h5"
    expect_ok "$WORK/limited/lt-eval" -q "$WORK/many.h5" "$WORK/wide.h5" --format tsv
fi

section "--threads 1 and 2 write the same bytes (lt-attend, lt-project, lt-eval, lt-compat)"
# OpenBLAS's own threads split a product by thread count and rounded the
# sums of a row differently (1 ulp); lt multiplies tiles of fixed size
# (256 rows x 2048 columns: 3000 classes are two tiles wide, and 100 test
# rows of them are two tiles shared by the threads).
"$PY" - "$WORK" <<'PY' || fail "writing the thread-count files"
import sys, h5py, numpy as np
w, rng = sys.argv[1], np.random.default_rng(5)
C, D = 3000, 64
head = dict(lt_schema="lt-h5", lt_schema_version=1)
with h5py.File(f"{w}/t-clf.h5", "w") as f:
    f.attrs.update(head, lt_type="classifier")
    f["weights"], f["class_ids"] = rng.standard_normal((C, D)).astype("f4"), np.arange(C)
    f["class_counts"] = rng.integers(1, 500, C)
with h5py.File(f"{w}/t-protos.h5", "w") as f:
    f.attrs.update(head, lt_type="prototypes", normalized_input=1)
    f["prototypes"], f["class_ids"] = rng.standard_normal((C, D)).astype("f4"), np.arange(C)
    f["counts"] = rng.integers(1, 500, C)
with h5py.File(f"{w}/t-test.h5", "w") as f:
    f.attrs.update(head, lt_type="features")
    f["features"], f["labels"] = rng.standard_normal((2000, D)).astype("f4"), rng.integers(0, C, 2000)
with h5py.File(f"{w}/t-few.h5", "w") as f:
    f.attrs.update(head, lt_type="features")
    f["features"], f["labels"] = rng.standard_normal((100, D)).astype("f4"), rng.integers(0, C, 100)
PY
T=(--classifier "$WORK/t-clf.h5" --protos "$WORK/t-protos.h5")
for threads in 1 2; do
  expect_ok lt-attend -q "${T[@]}" -k 0,100 --threads $threads -o "$WORK/t$threads-{k}.h5"
  expect_ok lt-project -q --features "$WORK/t-test.h5" "${T[@]}" --threads $threads
  cp "$LT_STDOUT" "$WORK/t$threads-project.tsv"
  expect_ok lt-eval -q "$WORK/t-test.h5" "$WORK/t-clf.h5" --threads $threads --predictions "$WORK/t$threads-pred.h5" --top-k 3
  expect_ok lt-eval -q "$WORK/t-few.h5" "$WORK/t-clf.h5" --threads $threads --predictions "$WORK/t$threads-few.h5" --top-k 3
  expect_ok lt-compat -q "${T[@]}" --sharpness --threads $threads
  cp "$LT_STDOUT" "$WORK/t$threads-sharpness.tsv"
done
for file in 0.h5 100.h5 project.tsv pred.h5 few.h5 sharpness.tsv; do
  cmp -s "$WORK/t1-$file" "$WORK/t2-$file" || fail "--threads 1 and 2 differ: $file"
done
echo "blocks.sh: blocks and the screen change nothing"

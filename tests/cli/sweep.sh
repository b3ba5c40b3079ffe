#!/usr/bin/env bash
# lt-attend's sweeps in one call (-k LIST, --tau LIST, -o with {k}/{tau}),
# on generated features (tests/ref/gen.py):
#   one classifier per value, each equal to the single-value run's, with its
#   own k and tau attributes; lt-eval of all of them in one call equals one
#   call per classifier;
#   usage errors (exit 2, one line, nothing written): several values without
#   {k} or {tau} in -o, -o - with several values, a repeated value, a bad one;
#   atomic: when any output cannot be written, or a value leaves no source
#   class, none of the outputs is left (and an existing one is untouched).
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$LT_SRC/tests/ref/env.sh" lt-protos lt-attend lt-eval
ENV_WORK=$WORK
source "$(dirname "$0")/../lib/cli.sh"
rm -rf "$ENV_WORK"
export LT_PROVENANCE=fixed
G=$WORK/gen
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" >/dev/null || fail "gen.py data"
expect_ok lt-protos -q "$G/train.h5" -o "$WORK/p.h5"
A=(lt-attend -q --classifier "$G/clf.h5" --protos "$WORK/p.h5")

section "-k 0,5,20: one classifier per k, each that of -k alone"
expect_ok "${A[@]}" -k 0,5,20 -o "$WORK/wh{k}.h5"
for k in 0 5 20; do
  expect_ok "${A[@]}" -k $k -o "$WORK/single$k.h5"
done
"$PY" - "$WORK" <<'PY' || fail "sweep outputs differ from single runs"
import sys, h5py, numpy as np
w = sys.argv[1]
for k in (0, 5, 20):
    a, b = h5py.File(f"{w}/wh{k}.h5"), h5py.File(f"{w}/single{k}.h5")
    assert int(a.attrs["k"]) == k and float(a.attrs["tau"]) == 10, dict(a.attrs)
    assert np.array_equal(a["class_ids"][:], b["class_ids"][:])
    assert np.array_equal(a["class_counts"][:], b["class_counts"][:])
    d = np.abs(a["weights"][:] - b["weights"][:]).max()
    assert d < 1e-6, (k, d)
assert not np.allclose(h5py.File(f"{w}/wh0.h5")["weights"][:], h5py.File(f"{w}/wh20.h5")["weights"][:])
PY

section "-k and --tau lists: the grid, {k} and {tau} in the names"
expect_ok "${A[@]}" -k 0,20 --tau 2.5,10 -o "$WORK/grid-{k}-{tau}.h5"
for k in 0 20; do
  for tau in 2.5 10; do
    expect_ok "${A[@]}" -k $k --tau $tau -o "$WORK/one-$k-$tau.h5"
    "$PY" - "$WORK/grid-$k-$tau.h5" "$WORK/one-$k-$tau.h5" $tau <<'PY' || fail "grid k=$k tau=$tau"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert float(a.attrs["tau"]) == float(sys.argv[3])
assert np.abs(a["weights"][:] - b["weights"][:]).max() < 1e-6
PY
  done
done

section "lt-eval of the sweep in one call equals one call per classifier"
expect_ok lt-eval -q "$G/test.h5" "$WORK/wh0.h5" "$WORK/wh5.h5" "$WORK/wh20.h5" --names 0,5,20 --format tsv
cp "$LT_STDOUT" "$WORK/together.tsv"
{ echo -e "name\tmany\tmedium\tfew\ttotal"
  for k in 0 5 20; do lt-eval -q "$G/test.h5" "$WORK/wh$k.h5" --names $k --format tsv | tail -n 1; done
} >"$WORK/apart.tsv"
cmp -s "$WORK/together.tsv" "$WORK/apart.tsv" || fail "lt-eval of 3 files differs from 3 runs: $(diff "$WORK/together.tsv" "$WORK/apart.tsv")"

section "lt-eval --attend scores the sweep's classifiers as the files do, without them"
# Ranking and every output the same as lt-eval of the composed files: the
# table, predictions with the best 3 and their probabilities, per-class.
for grid in "-k 0,5,20" "-k 0,20 --tau 2.5,10" "-k 5 --continual"; do
  read -r -a values <<<"$grid"
  rm -f "$WORK"/sw-*.h5
  expect_ok "${A[@]}" "${values[@]}" -o "$WORK/sw-{k}-{tau}.h5"
  files=() names=()
  for k in 0 5 20; do
    for tau in 2.5 10; do
      [[ -e $WORK/sw-$k-$tau.h5 ]] || continue
      files+=("$WORK/sw-$k-$tau.h5")
      names+=("k${k}t${tau}")
    done
  done
  names=$(IFS=,; echo "${names[*]}")
  O=(--format tsv --top5 --predictions "$WORK/pred-files.h5" --top-k 3 --per-class "$WORK/pc-files.tsv")
  expect_ok lt-eval -q "$G/test.h5" "$G/clf.h5" "${files[@]}" --names "clf,$names" "${O[@]}"
  cp "$LT_STDOUT" "$WORK/files.tsv"
  O=(--format tsv --top5 --predictions "$WORK/pred-sweep.h5" --top-k 3 --per-class "$WORK/pc-sweep.tsv")
  expect_ok lt-eval -q "$G/test.h5" "$G/clf.h5" --names clf,$names --attend "$G/clf.h5" --protos "$WORK/p.h5" "${values[@]}" "${O[@]}"
  cmp -s "$WORK/files.tsv" "$LT_STDOUT" || fail "$grid: --attend's table differs: $(diff "$WORK/files.tsv" "$LT_STDOUT")"
  cmp -s "$WORK/pc-files.tsv" "$WORK/pc-sweep.tsv" || fail "$grid: --attend's per-class accuracies differ"
  "$PY" - "$WORK/pred-files.h5" "$WORK/pred-sweep.h5" <<'PY' || fail "$grid: --attend's predictions differ"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert np.array_equal(a["predictions"][:], b["predictions"][:])
assert np.array_equal(a["top_class_ids"][:], b["top_class_ids"][:])
assert np.abs(a["top_scores"][:] - b["top_scores"][:]).max() < 1e-5
PY
done
# The default names say the value.
expect_ok lt-eval -q "$G/test.h5" --attend "$G/clf.h5" --protos "$WORK/p.h5" -k 0,20 --format tsv
[[ $(cut -f1 "$LT_STDOUT" | tr '\n' ' ') == "name k=0 k=20 " ]] || fail "default names: $(cut -f1 "$LT_STDOUT")"
expect_fail 2 "nothing to evaluate" -- lt-eval "$G/test.h5"
expect_fail 2 "--protos requires --attend" -- lt-eval "$G/test.h5" "$G/clf.h5" --protos "$WORK/p.h5"
expect_fail 2 "-k requires --attend" -- lt-eval "$G/test.h5" "$G/clf.h5" -k 5
expect_fail 2 "--attend requires --protos" -- lt-eval "$G/test.h5" --attend "$G/clf.h5"
expect_fail 2 "--tau 40 is above 30" -- lt-eval "$G/test.h5" --attend "$G/clf.h5" --protos "$WORK/p.h5" --tau 40
expect_fail 2 "--names gives 2 names for 3 classifiers" -- \
  lt-eval "$G/test.h5" --attend "$G/clf.h5" --protos "$WORK/p.h5" -k 0,5,20 --names a,b

section "usage errors: exit 2, one line, nothing written"
expect_fail 2 "must contain \{k\}" "$WORK/u.h5" -- "${A[@]}" -k 0,5 -o "$WORK/u.h5"
expect_fail 2 "must contain \{tau\}" "$WORK/u{k}.h5" -- "${A[@]}" -k 0 --tau 1,10 -o "$WORK/u{k}.h5"
expect_fail 2 "must contain \{k\}" -- "${A[@]}" -k 0,5 -o -
expect_fail 2 "-k: 5 is given twice" "$WORK/u5.h5" -- "${A[@]}" -k 5,5 -o "$WORK/u{k}.h5"
expect_fail 2 "-k: 'x' is not an integer" "$WORK/u0.h5" -- "${A[@]}" -k 0,x -o "$WORK/u{k}.h5"
expect_fail 2 "--tau: 'inf' is not a finite number" "$WORK/u0.h5" -- "${A[@]}" -k 0 --tau 10,inf -o "$WORK/u{k}-{tau}.h5"
[[ -z $(ls -A "$WORK" | grep -E '^u|tmp') ]] || fail "files left by usage errors: $(ls -A "$WORK" | grep -E '^u|tmp')"

section "atomic: a failing value or output leaves none of the outputs"
largest=$("$PY" -c 'import sys,h5py; print(int(h5py.File(sys.argv[1])["class_counts"][:].max()))' "$G/clf.h5")
expect_fail 1 "-k $largest leaves no source class" "$WORK/f0.h5" "$WORK/f5.h5" "$WORK/f$largest.h5" -- \
  "${A[@]}" -k 0,5,$largest -o "$WORK/f{k}.h5"
mkdir -p "$WORK/dir0"
echo precious >"$WORK/dir0/wh.h5"
expect_fail 1 "cannot write" "$WORK/dir5/wh.h5" -- "${A[@]}" -k 0,5 -o "$WORK/dir{k}/wh.h5"
echo precious | cmp -s - "$WORK/dir0/wh.h5" || fail "an existing output was replaced by a failed sweep"
[[ -z $(ls -A "$WORK/dir0" | grep -v '^wh.h5$') ]] || fail "temporaries left: $(ls -A "$WORK/dir0")"

section "a sweep of more outputs than the soft limit of open files"
# 3 k x 40 tau values keep 120 outputs open at once: a soft limit of 64 is
# raised to the hard one, and a hard limit of 64 is a clear error.
taus=$(seq -s, 1 40)
mkdir -p "$WORK/many" "$WORK/few-files"
( ulimit -Sn 64 && expect_ok "${A[@]}" -k 0,5,20 --tau "$taus" -o "$WORK/many/wh{k}-{tau}.h5" ) || exit 1
[[ $(ls -A "$WORK/many" | wc -l) -eq 120 ]] || fail "expected 120 outputs, found $(ls -A "$WORK/many" | wc -l)"
( ulimit -n 64 && expect_fail 1 "too many files open at once .*ulimit -n" "$WORK/few-files/wh0-1.h5" -- \
    "${A[@]}" -k 0,5,20 --tau "$taus" -o "$WORK/few-files/wh{k}-{tau}.h5" ) || exit 1
[[ -z $(ls -A "$WORK/few-files") ]] || fail "files left by a failed sweep: $(ls -A "$WORK/few-files" | head -3)"

section "a new class (a prototype only) needs w: the hint names what to change"
# clf_old.h5 lacks the new classes of new_ids.txt; the prototypes have them.
NEEDS_W="class [0-9]+ needs w \(terms kt,[pw], mode (w2p|p2w)\) but has no classifier row \(hint:"
OLD=(lt-attend -q --classifier "$G/clf_old.h5" --protos "$WORK/p.h5" -k 5)
expect_fail 1 "$NEEDS_W --mode p2w or p2p builds weights" "$WORK/x.h5" -- "${OLD[@]}" --continual --mode w2p -o "$WORK/x.h5"
expect_fail 1 "$NEEDS_W --continual \(terms kt,p\) builds weights" "$WORK/x.h5" -- "${OLD[@]}" --terms kt,w -o "$WORK/x.h5"
expect_fail 1 "$NEEDS_W --continual \(terms kt,p\) with --mode p2w or p2p builds" "$WORK/x.h5" -- \
    "${OLD[@]}" --terms kt,w --mode w2p -o "$WORK/x.h5"
expect_ok "${OLD[@]}" --continual --mode p2p -o "$WORK/x.h5"
echo "sweep.sh: sweeps in one call work, and fail cleanly"

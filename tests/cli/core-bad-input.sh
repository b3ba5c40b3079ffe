#!/usr/bin/env bash
# Bad input to the core tools (lt-protos, lt-attend, lt-ensemble, lt-eval,
# lt-compat), docs/design.md "CLI contract":
#   data errors  -> exit 1, exactly one stderr line 'lt-<tool>: error: ...',
#                   no output file (an existing output left untouched, no
#                   temporary file left behind);
#   bad/missing options -> exit 2, also with one 'lt-<tool>: error: ...' line.
# The broken files come from tests/ref/gen.py bad (written with h5py).  Every
# tool meets every kind of defect that applies to its inputs, spread over the
# tools (each start of a LibTorch binary costs ~0.5 s, so not every pair is
# tried).  Files without lt attributes are NOT bad input: readers infer the
# type of a bare h5py export from its datasets (tests/pipeline/reference.sh).
# LT_KEEP=1 keeps the work folder.
set -u
. "$(dirname "$0")/../ref/env.sh" lt-protos lt-attend lt-ensemble lt-eval lt-compat lt-project lt-wordnet lt-info lt-adjust
. "$REF/jobs.sh"

B=$WORK/bad
O=$WORK/out
mkdir -p "$O"
"$PY" "$REF/gen.py" bad "$B" || { echo "FAIL: gen.py bad"; exit 1; }

# expect STATUS [--in FILE] -- COMMAND...   (stdin from FILE, default /dev/null)
# The argument X stands for a fresh output path.  Either way exactly one line
# 'lt-<tool>: error: ...' on stderr, and no output (the -o or --predictions
# argument) afterwards.  (Not tests/lib/cli.sh's expect_fail: that one stops
# at the first failure and runs one tool at a time; this file reports every
# failure and runs LT_TEST_JOBS tools at a time.)
expect() {
  local want=$1; shift
  local in=/dev/null args=() outs=() prev="" a rc=0 tool id
  if [ "$1" = --in ]; then in=$2; shift 2; fi
  [ "$1" = -- ] && shift
  id=$BASHPID.$RANDOM$RANDOM
  for a in "$@"; do
    [ "$a" = X ] && a=$O/x.$id.h5
    case $prev in -o|--output|--predictions) [ "$a" != - ] && outs+=("$a") ;; esac
    args+=("$a"); prev=$a
  done
  tool=$(basename "${args[0]}")
  local out=$WORK/err/$id.out err=$WORK/err/$id.err
  "${args[@]}" >"$out" 2>"$err" <"$in" || rc=$?
  if [ $rc -gt 128 ]; then
    fail "ended by signal $((rc - 128)): ${args[*]} :: $(head -c 300 "$err")"
    return
  fi
  if [ $rc -ne "$want" ]; then
    fail "expected exit $want, got $rc: ${args[*]} :: $(head -c 300 "$err")"
    return
  fi
  if [ "$(wc -l <"$err")" -ne 1 ] || ! grep -q "^$tool: error: " "$err"; then
    fail "expected exactly one line '$tool: error: ...' on stderr: ${args[*]} :: $(head -c 300 "$err")"
  fi
  for a in "${outs[@]}"; do
    [ -e "$a" ] && fail "output $a exists after a failed run: ${args[*]}"
  done
  return 0
}
bad()   { job expect 1 "$@"; }
usage() { job expect 2 "$@"; }

F=$B/good_feats.h5 C=$B/good_clf.h5 P=$B/good_protos.h5
NOPE=$WORK/does-not-exist.h5

# ------------------------------------------- input checks every tool shares
# missing, not HDF5, HDF5 without anything lt reads, unknown lt_type, newer
# schema version
for f in "$NOPE" "$B/not_hdf5.h5" "$B/no_schema.h5" "$B/type_banana.h5" "$B/feats_v2.h5"; do
  bad -- lt-protos "$f" -o X
done
bad -- lt-eval "$NOPE" "$C" --predictions X
bad -- lt-eval "$B/feats_v2.h5" "$C" --predictions X
bad -- lt-eval "$F" "$C" "$B/not_hdf5.h5"
bad -- lt-eval "$F" "$B/type_banana.h5"
bad -- lt-attend --classifier "$NOPE" --protos "$P" -o X
bad -- lt-attend --classifier "$B/clf_v2.h5" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$B/not_hdf5.h5" -o X
bad -- lt-attend --classifier "$C" --protos "$B/no_schema.h5" -o X
bad -- lt-ensemble "$C" "$NOPE" -o X
bad -- lt-ensemble "$C" "$B/type_banana.h5" -o X
bad -- lt-ensemble "$B/clf_v2.h5" "$C" -o X
bad -- lt-compat --classifier "$B/not_hdf5.h5" --protos "$P" --mismatch
bad -- lt-compat --classifier "$B/clf_v2.h5" --protos "$P" --mismatch
bad -- lt-compat --classifier "$C" --protos "$NOPE" --sharpness
# not HDF5, or nothing, on stdin
bad --in "$B/not_hdf5.h5" -- lt-protos - -o X
bad --in /dev/null -- lt-eval - "$C"
# unreadable (meaningless as root: root reads anything)
if [ "$(id -u)" != 0 ]; then
  cp "$F" "$O/unreadable.h5"; cp "$C" "$O/unreadable_clf.h5"
  chmod 000 "$O/unreadable.h5" "$O/unreadable_clf.h5"
  bad -- lt-protos "$O/unreadable.h5" -o X
  bad -- lt-eval "$O/unreadable.h5" "$C"
  bad -- lt-attend --classifier "$O/unreadable_clf.h5" --protos "$P" -o X
  bad -- lt-ensemble "$C" "$O/unreadable_clf.h5" -o X
  bad -- lt-compat --classifier "$O/unreadable_clf.h5" --protos "$P" --mismatch
else
  echo "note: running as root, unreadable-file cases skipped"
fi

# zero bytes, cut short (truncated HDF5), a directory, a header that claims
# 8 TiB of labels
bad -- lt-protos "$B/empty.h5" -o X
bad -- lt-eval "$B/feats_truncated.h5" "$C"
bad -- lt-attend --classifier "$B/clf_truncated.h5" --protos "$P" -o X
bad -- lt-ensemble "$C" "$B/empty.h5" -o X
bad -- lt-compat --classifier "$C" --protos "$B" --mismatch
bad -- lt-protos "$B/feats_huge_claim.h5" -o X
bad -- lt-project --features "$B/feats_truncated.h5" --classifier "$C" --protos "$P"
bad -- lt-project --features "$F" --classifier "$B/clf_v2.h5" --protos "$P"

# ------------------------------------------- wrong lt_type for the role
bad -- lt-protos "$C" -o X
bad -- lt-attend --classifier "$F" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$C" -o X
bad -- lt-ensemble "$C" "$F" -o X
bad -- lt-eval "$C" "$C"
bad -- lt-compat --classifier "$C" --protos "$F" --mismatch

# ------------------------------------------- missing dataset
bad -- lt-protos "$B/feats_no_labels.h5" -o X
bad -- lt-eval "$B/feats_no_features.h5" "$C"
bad -- lt-attend --classifier "$B/clf_no_counts.h5" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$B/protos_no_counts.h5" -o X
bad -- lt-ensemble "$C" "$B/clf_no_weights.h5" -o X

# ------------------------------------------- shape mismatch
bad -- lt-protos "$B/feats_short_labels.h5" -o X
bad -- lt-protos "$B/feats_fractional_labels.h5" -o X
bad -- lt-eval "$B/feats_fractional_labels.h5" "$C"
bad -- lt-eval "$B/feats_short_ids.h5" "$C"
bad -- lt-project --features "$B/feats_short_ids.h5" --classifier "$C" --protos "$P"
bad -- lt-eval "$B/feats_1d.h5" "$C"
bad -- lt-attend --classifier "$B/clf_short_ids.h5" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$B/protos_short_counts.h5" -o X
bad -- lt-eval "$F" "$B/clf_short_counts.h5"
bad -- lt-compat --classifier "$B/clf_short_ids.h5" --protos "$P" --sharpness

# ------------------------------------------- dimension mismatch between files
bad -- lt-attend --classifier "$B/clf_dim_plus1.h5" --protos "$P" -o X
bad -- lt-ensemble "$C" "$B/clf_dim_plus1.h5" -o X
bad -- lt-eval "$B/feats_dim_plus1.h5" "$C" --predictions X
bad -- lt-compat --classifier "$C" --protos "$B/protos_dim_plus1.h5" --mismatch
# ensemble members that disagree (dimension, class ids, training counts)
# inside one file or across files; a rule other than mean-prob
bad -- lt-eval "$F" "$B/ens_other_dim.h5"
bad -- lt-ensemble "$B/ens_other_ids.h5" "$C" -o X
bad -- lt-eval "$F" "$B/ens_other_counts.h5"
bad -- lt-ensemble "$C" "$B/clf_other_counts.h5" -o X
bad -- lt-eval "$F" "$B/ens_rule_max.h5"
bad -- lt-ensemble "$B/ens_rule_max.h5" "$C" -o X

# ------------------------------------------- NaN / Inf
bad -- lt-protos "$B/feats_nan.h5" -o X
bad -- lt-eval "$B/feats_inf.h5" "$C" --predictions X
bad -- lt-attend --classifier "$B/clf_nan.h5" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$B/protos_nan.h5" -o X
bad -- lt-ensemble "$C" "$B/clf_inf.h5" -o X
bad -- lt-eval "$F" "$B/protos_nan.h5"
bad -- lt-compat --classifier "$B/clf_nan.h5" --protos "$P" --sharpness

# float64 values beyond float32 range
bad -- lt-eval "$B/feats_f64_overflow.h5" "$C"

# ------------------------------------------- empty classes: N = 0, C = 0, a
# prototype averaging no sample; negative class ids
bad -- lt-attend --classifier "$C" --protos "$B/protos_zero_count.h5" -o X
bad -- lt-eval "$F" "$B/clf_no_classes.h5"
bad -- lt-ensemble "$C" "$B/clf_no_classes.h5" -o X
bad -- lt-attend --classifier "$B/clf_negative_id.h5" --protos "$P" -o X
bad -- lt-protos "$B/feats_empty.h5" -o X
bad -- lt-eval "$B/feats_empty.h5" "$C" --predictions X

# ------------------------------------------- --counts lacking a test label
bad -- lt-eval "$F" "$C" --counts "$B/counts_lacking.h5" --predictions X
# a features file given as training counts goes through the features
# header's checks, as lt-protos and lt-info --class-counts read it
for f in "$B/feats_label_minus2.h5" "$B/feats_labels_row.h5" "$B/feats_short_ids.h5" "$B/feats_3d.h5" \
         "$B/feats_dim0.h5" "$B/feats_group.h5" "$B/feats_dangling.h5" "$B/feats_empty.h5" \
         "$B/feats_short_labels.h5" "$B/feats_no_features.h5"; do
  bad -- lt-eval "$F" "$C" --counts "$f" --predictions X
  bad -- lt-info --class-counts "$f"
done
bad -- lt-adjust --classifier "$C" -T 1 --prior "$B/feats_label_minus2.h5" -o X

# ------------------------------------------- duplicate class ids
bad -- lt-attend --classifier "$B/clf_dup_ids.h5" --protos "$P" -o X
bad -- lt-attend --classifier "$C" --protos "$B/protos_dup_ids.h5" -o X
bad -- lt-eval "$F" "$B/clf_dup_ids.h5"
bad -- lt-compat --classifier "$C" --protos "$B/protos_dup_ids.h5" --mismatch

# ------------------------------------------- usage errors: exit 2
for t in lt-protos lt-attend lt-ensemble lt-eval lt-compat; do
  usage -- $t
done
usage -- lt-protos "$F" -o X --no-such-option
usage -- lt-eval "$F" "$C" --no-such-option
usage -- lt-protos - - -o X   # one input per command can be standard input
# ... whichever two of a tool's inputs are '-' (checked before reading one)
usage --in "$F" -- lt-project --features - --classifier "$C" --protos -
usage --in "$F" -- lt-project --features - --classifier - --protos "$P"
usage --in "$C" -- lt-project --features "$F" --classifier - --protos "$P" --final -
usage --in "$C" -- lt-attend --classifier - --protos - -o X
usage --in "$C" -- lt-compat --classifier - --protos - --mismatch
usage --in "$C" -- lt-adjust --classifier - -T 1 --prior - -o X
usage -- lt-attend --classifier "$C" -o X
usage -- lt-attend --classifier "$C" --protos "$P" -o X --mode q2q
usage -- lt-attend --classifier "$C" --protos "$P" -o X --terms kt,x
usage -- lt-attend --classifier "$C" --protos "$P" -o X --terms ""
usage -- lt-attend --classifier "$C" --protos "$P" -o X --tau
usage -- lt-ensemble "$C" -o X
usage -- lt-eval "$F"
usage -- lt-eval "$F" "$C" --format xml
usage -- lt-eval "$F" "$C" "$C" --names only-one
usage -- lt-compat --protos "$P" --mismatch
usage -- lt-compat --classifier "$C" --protos "$P" --neighbours abc
usage -- lt-attend --classifier "$C" --protos "$P" -o X -k -1
usage -- lt-attend --classifier "$C" --protos "$P" -o X --tau -2
usage -- lt-attend --classifier "$C" --protos "$P" -o X --tau nan
usage -- lt-project --features "$F" --classifier "$C"
usage -- lt-project --features "$F" --classifier "$C" --protos "$P" --neighbours -1
usage -- lt-wordnet --pair dog.n.01
usage -- lt-wordnet --no-such-option
# k = the largest training count leaves no source class (data, not usage)
bad -- lt-attend --classifier "$C" --protos "$P" -o X -k 100000
# lt-wordnet: unknown synsets, a missing neighbours table, a malformed one
bad -- lt-wordnet --pair dog.n.01 no_such_word.n.01
bad -- lt-wordnet "$NOPE"
bad --in "$B/not_hdf5.h5" -- lt-wordnet
barrier

# ------------------------------------------- an existing output survives a failed run
echo precious >"$O/keep.h5"
for cmd in "lt-protos $B/feats_nan.h5 -o $O/keep.h5" \
           "lt-attend --classifier $B/clf_nan.h5 --protos $P -o $O/keep.h5" \
           "lt-ensemble $C $B/clf_other_ids.h5 -o $O/keep.h5"; do
  rc=0; $cmd >/dev/null 2>&1 || rc=$?
  NJOB=$((NJOB + 1))
  [ $rc = 1 ] || fail "expected exit 1, got $rc: $cmd"
  echo precious | cmp -s - "$O/keep.h5" || { fail "existing output replaced by a failed run: $cmd"; echo precious >"$O/keep.h5"; }
done
left=$(ls -A "$O" | grep -v -E '^(keep\.h5|unreadable.*\.h5)$')
[ -z "$left" ] && [ -z "$(ls -A "$B" | grep -i tmp)" ] ||
  fail "files left behind by failed runs: $(echo $left)"

report core-bad-input.sh "every bad input is refused as the contract says"

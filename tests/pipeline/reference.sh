#!/usr/bin/env bash
# End-to-end check of the training-free core against an independent numpy
# implementation of docs/method.md (tests/ref/ltref.py), on generated long-tailed
# features written by h5py in several flavours (float32/float64, chunked+gzip
# or contiguous, fixed or variable-length strings; scattered, unsorted class
# ids; an unbalanced test set with unlabelled samples).
#
#   lt-protos -> lt-attend (every mode x k 0/20/100 x term sets, tau,
#   continual with new classes, model file) -> lt-ensemble (incl. nested) ->
#   lt-eval (tsv, json, --counts, thresholds, --within-group, --predictions)
#   -> lt-compat; and the same through pipes.
#
# Every number is compared with the reference: 1e-5 on weights (read back with
# h5py), 1e-4 on percentages.  LT_KEEP=1 keeps the work folder; LT_VERBOSE=1
# lists every check; LT_TEST_JOBS=N runs N tools at a time (default 2).
set -u
. "$(dirname "$0")/../ref/env.sh" lt-protos lt-attend lt-ensemble lt-eval lt-compat
. "$REF/jobs.sh"

D=$WORK/data
O=$WORK/out
M=$WORK/manifest            # checks for check.py, one a line
mkdir -p "$O"
# the reference itself first, on its hand-computed case
"$PY" "$REF/selftest.py" >"$WORK/selftest.out" || { cat "$WORK/selftest.out"; echo "FAIL: ltref selftest"; exit 1; }
"$PY" "$REF/gen.py" data "$D" || { echo "FAIL: gen.py"; exit 1; }

# run CHECK -- COMMAND...: the tool must succeed with an empty stderr; then
# CHECK (if not empty; several separated by ' ;; ') goes to the manifest with
# the command.
run() {
  local check=$1; shift; [ "$1" = -- ] && shift
  local err rc=0
  err=$(mktemp "$WORK/err/XXXXXX")
  "$@" 2>"$err" || rc=$?
  if [ $rc -ne 0 ]; then
    fail "exit $rc: $* :: $(head -c 400 "$err")"
    return 1
  fi
  if [ -n "${LT_WARNINGS:-}" ]; then
    # exactly LT_WARNINGS warning lines, each naming a class without a row
    [ "$(grep -c '^lt-eval: warning: .*: no row for ' "$err")" -eq "$LT_WARNINGS" ] && [ "$(wc -l <"$err")" -eq "$LT_WARNINGS" ] ||
      fail "expected $LT_WARNINGS warning(s) of classes without a row: $* :: $(head -c 400 "$err")"
  else
    [ -s "$err" ] && fail "stderr not empty on success: $* :: $(head -c 400 "$err")"
  fi
  [ -n "$check" ] && echo "${check// ;; / ## $*
} ## $*" >>"$M"
  return 0
}

# run_fail CHECK -- COMMAND...: the tool must refuse (exit 1, one stderr line
# 'lt-<tool>: error: ...', no output file); CHECK asks the reference to refuse too.
run_fail() {
  local check=$1; shift; [ "$1" = -- ] && shift
  local err rc=0 tool out="" prev=""
  err=$(mktemp "$WORK/err/XXXXXX")
  tool=$(basename "$1")
  for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
  "$@" >/dev/null 2>"$err" || rc=$?
  [ $rc -eq 1 ] || fail "expected exit 1, got $rc: $*"
  { [ "$(wc -l <"$err")" -eq 1 ] && grep -q "^$tool: error: " "$err"; } ||
    fail "expected one line '$tool: error: ...' on stderr: $* :: $(head -c 400 "$err")"
  [ -n "$out" ] && [ "$out" != - ] && [ -e "$out" ] && fail "output $out left behind: $*"
  [ -n "$check" ] && echo "$check ## $*" >>"$M"
  return 0
}

# pipe CHECK -- "shell pipeline": every stage must succeed, stderr empty
pipe() {
  local check=$1 cmd=$3 rc=0 err
  err=$(mktemp "$WORK/err/XXXXXX")
  bash -o pipefail -c "$cmd" 2>"$err" || rc=$?
  if [ $rc -ne 0 ]; then fail "pipe exit $rc: $cmd :: $(head -c 400 "$err")"; return; fi
  [ -s "$err" ] && fail "stderr not empty: $cmd :: $(head -c 400 "$err")"
  echo "$check ## $cmd" >>"$M"
}

# ---------------------------------------------------------------- lt-protos
P=$O/protos.h5
job run "protos $P $D/train.h5" -- lt-protos "$D/train.h5" -o "$P"
job run "protos $O/protos64.h5 $D/train64.h5" -- lt-protos "$D/train64.h5" -o "$O/protos64.h5"
job pipe "protos $O/pipe_protos.h5 $D/train_foreign.h5" -- "lt-protos - -o '$O/pipe_protos.h5' <'$D/train_foreign.h5'"
barrier

# ---------------------------------------------------------------- lt-attend
# every mode with every k and every term set, in 12 runs (a Latin square:
# mode x k and mode x terms each appear once)
GRID="p2w:0:kt,p,w p2w:20:kt,p,w p2w:100:kt,p,w
      w2p:0:kt w2p:20:kt,p,w w2p:100:kt,p
      w2w:0:kt,p w2w:20:kt w2w:100:kt,p,w
      p2p:0:kt,p,w p2p:20:kt,p p2p:100:kt"
for g in $GRID; do
  IFS=: read -r mode k terms <<<"$g"
  out=$O/a_${mode}_k${k}_${terms//,/-}.h5
  if [ "$g" = p2w:0:kt,p,w ]; then  # the defaults are p2w, k=0, tau=10, kt,p,w
    job run "attend $out $D/clf.h5 $P" -- lt-attend --classifier "$D/clf.h5" --protos "$P" -o "$out"
  else
    job run "attend $out $D/clf.h5 $P --mode $mode -k $k --terms $terms" -- \
      lt-attend --classifier "$D/clf.h5" --protos "$P" --mode $mode -k $k --terms $terms -o "$out"
  fi
done
# term sets without attention and in another order, tau, a k with one source
for terms in p,w w,kt; do
  job run "attend $O/a_t_${terms//,/-}.h5 $D/clf.h5 $P --terms $terms" -- \
    lt-attend --classifier "$D/clf.h5" --protos "$P" --terms $terms -o "$O/a_t_${terms//,/-}.h5"
done
# (prototypes written by numpy/h5py: float64, rows not sorted by class id)
job run "attend $O/a_tau.h5 $D/clf.h5 $D/protos_h5py.h5 --mode w2p -k 20 --tau 3.5" -- \
  lt-attend --classifier "$D/clf.h5" --protos "$D/protos_h5py.h5" --mode w2p -k 20 --tau 3.5 -o "$O/a_tau.h5"
job run "attend $O/a_k299.h5 $D/clf.h5 $P --mode w2w -k 299" -- \
  lt-attend --classifier "$D/clf.h5" --protos "$P" --mode w2w -k 299 -o "$O/a_k299.h5"
# a model file as the classifier, with the float64-built prototypes
job run "attend $O/a_model.h5 $D/model.h5 $O/protos64.h5 -k 20" -- \
  lt-attend --classifier "$D/model.h5" --protos "$O/protos64.h5" -k 20 -o "$O/a_model.h5"
# continual: clf_old lacks the new classes (new_ids.txt), the prototypes have them
for k in 20 100; do
  job run "attend $O/c_k$k.h5 $D/clf_old.h5 $P -k $k --continual" -- \
    lt-attend --classifier "$D/clf_old.h5" --protos "$P" -k $k --continual -o "$O/c_k$k.h5"
done
# k=4 keeps the new class with 5 samples and drops the two with 4 (their n_j
# comes from the prototypes' counts)
job run "attend $O/c_p2p.h5 $D/clf_old.h5 $D/protos_h5py.h5 --mode p2p -k 4 --continual" -- \
  lt-attend --classifier "$D/clf_old.h5" --protos "$D/protos_h5py.h5" --mode p2p -k 4 --continual -o "$O/c_p2p.h5"
job run "attend $O/c_terms.h5 $D/clf_old.h5 $P -k 20 --terms p" -- \
  lt-attend --classifier "$D/clf_old.h5" --protos "$P" -k 20 --terms p -o "$O/c_terms.h5"
job pipe "attend $O/pipe_c.h5 $D/clf_old.h5 $P -k 20 --continual" -- \
  "cat '$D/clf_old.h5' | lt-attend --classifier - --protos '$P' -k 20 --continual -o - >'$O/pipe_c.h5'"
# refused: a new class needs w; a w2p query needs w; k leaves no source
job run_fail "attend-error $D/clf_old.h5 $P" -- \
  lt-attend --classifier "$D/clf_old.h5" --protos "$P" -o "$O/x1.h5"
job run_fail "attend-error $D/clf_old.h5 $P --mode w2p --terms kt,p" -- \
  lt-attend --classifier "$D/clf_old.h5" --protos "$P" --mode w2p --terms kt,p -o "$O/x2.h5"
job run_fail "attend-error $D/clf.h5 $P --mode p2p -k 300 --terms kt" -- \
  lt-attend --classifier "$D/clf.h5" --protos "$P" --mode p2p -k 300 --terms kt -o "$O/x3.h5"
# lt-compat reads the same inputs
job run "mismatch $O/mismatch.txt $D/clf.h5 $P" -- \
  lt-compat --classifier "$D/clf.h5" --protos "$P" --mismatch >"$O/mismatch.txt"
job run "sharpness $O/sharpness.txt $D/clf.h5 $P" -- \
  lt-compat --classifier "$D/clf.h5" --protos "$P" --sharpness >"$O/sharpness.txt"
job run "neighbours $O/neigh.txt $D/clf.h5 $P 5" -- \
  lt-compat --classifier "$D/clf.h5" --protos "$P" --neighbours 5 >"$O/neigh.txt"
C1=$(cut -d' ' -f1 "$D/meta.txt" | sed -n 3p)
job run "neighbours $O/neigh1.txt $D/clf.h5 $P 3 --class $C1 --tau 4 --names $D/classes.txt" -- \
  lt-compat --classifier "$D/clf.h5" --protos "$P" --neighbours 3 --class "$C1" --tau 4 \
  --class-names "$D/classes.txt" >"$O/neigh1.txt"
job pipe "mismatch $O/mismatch_old.txt $D/clf_old.h5 $P" -- \
  "lt-protos '$D/train.h5' -o - | lt-compat --classifier '$D/clf_old.h5' --protos - --mismatch >'$O/mismatch_old.txt'"
job pipe "eval-tsv $O/pipe.tsv $D/test.h5 $O/a_p2w_k20_kt-p-w.h5 --no-names" -- \
  "lt-protos '$D/train.h5' -o - | lt-attend --classifier '$D/clf.h5' --protos - -k 20 -o - | lt-eval '$D/test.h5' - --format tsv >'$O/pipe.tsv'"
barrier

# ---------------------------------------------------------------- lt-ensemble
H0=$O/a_p2w_k0_kt-p-w.h5 H20=$O/a_p2w_k20_kt-p-w.h5 H100=$O/a_p2w_k100_kt-p-w.h5
job run "ensemble $O/ens.h5 $D/test.h5 $H0 $H20 $H100" -- lt-ensemble "$H0" "$H20" "$H100" -o "$O/ens.h5"
# continual ensemble: prototypes (scale 16) and composed rows (scale 14.5)
job run "ensemble $O/ens_cont.h5 $D/test.h5 $P $O/c_k20.h5 $O/c_k100.h5" -- \
  lt-ensemble "$P" "$O/c_k20.h5" "$O/c_k100.h5" -o "$O/ens_cont.h5"
job run_fail "" -- lt-ensemble "$D/clf.h5" "$D/clf_old.h5" -o "$O/x6.h5"
barrier
# nested: flattened to 4 equally weighted members, not (ens + member) / 2
job pipe "ensemble $O/ens_nested.h5 $D/test.h5 $O/ens.h5 $O/a_w2p_k20_kt-p-w.h5" -- \
  "lt-ensemble '$O/ens.h5' '$O/a_w2p_k20_kt-p-w.h5' -o - >'$O/ens_nested.h5'"

# ---------------------------------------------------------------- lt-eval
# the old classifier lacks the new classes: their test samples are errors,
# in their groups with --counts, ungrouped without; one warning each time
LT_WARNINGS=1 job run "eval-json $O/old.json $D/test.h5 $D/clf_old.h5 $O/c_k20.h5 --counts $D/train.h5" -- \
  lt-eval "$D/test.h5" "$D/clf_old.h5" "$O/c_k20.h5" --counts "$D/train.h5" --format json >"$O/old.json"
LT_WARNINGS=1 job run "eval-tsv $O/old.tsv $D/test.h5 $D/clf_old.h5 --names old ;; predictions $O/pred_old.h5 $D/test.h5 $D/clf_old.h5" -- \
  lt-eval "$D/test.h5" "$D/clf_old.h5" --format tsv --names old --predictions "$O/pred_old.h5" >"$O/old.tsv"
# a group with no classes prints nan; features from stdin
job pipe "eval-json $O/empty.json $D/test.h5 $D/clf.h5 $H20 --many 1000 --few 10 --no-names" -- \
  "lt-eval - '$D/clf.h5' '$H20' --many 1000 --few 10 --format json <'$D/test.h5' >'$O/empty.json'"
job run_fail "" -- lt-eval "$D/test.h5" "$D/clf.h5" --counts "$D/clf_old.h5" --format tsv
barrier
ALL=("$D/clf.h5" "$D/model.h5")
for f in "$P" "$O/protos64.h5" "$O"/a_*.h5 "$O"/c_*.h5 "$O"/ens*.h5 "$O/pipe_c.h5"; do
  [ -e "$f" ] && ALL+=("$f")   # outputs whose run failed are already reported
done
SOME=("$D/clf.h5" "$P" "$H0" "$H20" "$H100" "$O/a_w2w_k100_kt-p-w.h5" "$O/ens.h5"
      "$O/ens_nested.h5" "$O/c_k20.h5" "$O/ens_cont.h5")
job run "eval-tsv $O/all.tsv $D/test.h5 ${ALL[*]}" -- lt-eval "$D/test.h5" "${ALL[@]}" --format tsv >"$O/all.tsv"
job run "eval-json $O/all.json $D/test.h5 ${ALL[*]}" -- lt-eval "$D/test.h5" "${ALL[@]}" --format json >"$O/all.json"
# groups from a --counts file and other thresholds; names; within-group
job run "eval-tsv $O/counts.tsv $D/test.h5 ${SOME[*]} --counts $P --many 150 --few 10 --names $(seq -s, 1 ${#SOME[@]})" -- \
  lt-eval "$D/test.h5" "${SOME[@]}" --counts "$P" --many 150 --few 10 --format tsv \
  --names "$(seq -s, 1 ${#SOME[@]})" >"$O/counts.tsv"
job run "eval-json $O/within.json $D/test.h5 ${SOME[*]} --within-group" -- \
  lt-eval "$D/test.h5" "${SOME[@]}" --within-group --format json >"$O/within.json"
job run "eval-tsv $O/within.tsv $D/train64.h5 ${SOME[*]} --within-group --counts $D/clf.h5 --many 1000 --few 30" -- \
  lt-eval "$D/train64.h5" "${SOME[@]}" --within-group --counts "$D/clf.h5" --many 1000 --few 30 --format tsv >"$O/within.tsv"

# ---------------------------------------------------------------- compare
wait
"$PY" "$REF/check.py" -f "$M" ${LT_VERBOSE:+-v} >"$WORK/check.out" 2>&1 ||
  fail "$(grep -v '^ok ' "$WORK/check.out")"
[ -n "${LT_VERBOSE:-}" ] && cat "$WORK/check.out"
report reference.sh "every output agrees with the numpy reference ($(tail -1 "$WORK/check.out"))"

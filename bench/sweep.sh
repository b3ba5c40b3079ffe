#!/usr/bin/env bash
# The 21-value k sweep (k = 0, 5, ..., 100) at ImageNet-LT size: train
# NTRAIN=20000 rows, test NTEST=50000, D=2048, C=1000. lt runs it as a user
# would from the shell (prototypes, then one lt-eval --attend of all 21; and
# the composed files' way: lt-attend -k LIST, one lt-eval of the 21 files);
# the peer as one process (`peer.py sweep`). This is the paper's
# Fig. 5-style study, the most common use of the training-free tools.
# Target: lt >= 2x faster in total. Accuracies must be equal.
#   bench/sweep.sh              (SMALL=1: C=100 D=64 NTRAIN=4000 NTEST=2000)
# The peer's per-step times are its in-process timings; its total is the
# whole process (Python start-up included).
source "$(dirname "$0")/lib.sh"
if [[ ${SMALL:-0} == 1 ]]; then : "${C:=100}" "${D:=64}" "${NTRAIN:=4000}" "${NTEST:=2000}"; fi
C=${C:-1000} D=${D:-2048} NTRAIN=${NTRAIN:-20000} NTEST=${NTEST:-50000}
KS=$(seq -s, 0 5 100)
names=$(for k in ${KS//,/ }; do printf 'k=%s,' "$k"; done)
names=${names%,}
files=$(for k in ${KS//,/ }; do printf 'wh%s.h5 ' "$k"; done)

info "generating C=$C D=$D train=$NTRAIN test=$NTEST in $work"
generate --classes "$C" --dim "$D" --train "$NTRAIN" --test "$NTEST"
cat "$work"/*.h5 >/dev/null  # page cache, as right after extraction

# lt's sweep is the one call that scores every k without writing the 21
# classifiers (lt-eval --attend) when this build has it; the form that
# composes the files and evaluates them (lt-attend -k LIST, then lt-eval of
# the 21) is measured beside it.
if "$LT/lt-eval" --help 2>&1 | grep -q -- '--attend'; then
  form="lt-eval test.h5 --attend clf.h5 --protos p.h5 -k $KS"
  lt_sweep="\$LT/lt-eval \$T test.h5 --attend clf.h5 --protos p.h5 -k $KS --format tsv > lt.tsv"
else
  form="lt-attend -k LIST, then lt-eval of the 21 files (no --attend in this build)"
  lt_sweep=""
fi
if "$LT/lt-attend" --help 2>&1 | grep -q '{k}'; then
  attend="\$LT/lt-attend \$T --classifier clf.h5 --protos p.h5 -k $KS -o 'wh{k}.h5'"
else
  attend="for k in ${KS//,/ }; do \$LT/lt-attend \$T --classifier clf.h5 --protos p.h5 -k \$k -o wh\$k.h5; done"
fi
info "lt: $form"
lt_protos="\$LT/lt-protos \$T train.h5 -o p.h5"
lt_eval="\$LT/lt-eval \$T test.h5 $files --names '$names' --format tsv > lt-files.tsv"
peer="\$PEER sweep train.h5 test.h5 clf.h5 -k $KS > peer.tsv"

# Alternate lt's steps with the whole peer sweep; keep each one's best.
# Steps: 0 protos, 1 the one-call sweep, 2 attend x21, 3 eval of the 21 files.
steps=("$lt_protos" "$lt_sweep" "$attend" "$lt_eval")
best=() kbs=(0 0 0 0) peer_best=0 peer_kb=0 lt_fail=""
for ((r = 0; r < REPEAT; r++)); do
  for i in 0 1 2 3; do
    cmd=${steps[i]}
    [[ -n $cmd && -z $lt_fail ]] || continue
    measure "$LT_VMEM_GB" "$cmd"
    if ((RC_ != 0)); then lt_fail="step $i exited $RC_: $(tail -n 1 "$work/.err")"; fi
    if ((${best[i]:-0} == 0 || US_ < ${best[i]:-0})); then best[i]=$US_; fi
    ((KB_ > ${kbs[i]:-0})) && kbs[i]=$KB_
  done
  measure "$PEER_VMEM_GB" "$peer"
  ((RC_ == 0)) || { cat "$work/.err" >&2; exit 1; }
  if ((peer_best == 0 || US_ < peer_best)); then
    peer_best=$US_ peer_kb=$KB_
    cp "$work/.err" "$work/peer.times"
  fi
  info "run $((r + 1)) done: peer $(seconds $US_) s"
done
[[ -z $lt_fail ]] || { echo "bench: lt failed: $lt_fail" >&2; exit 1; }
[[ -n $lt_sweep ]] || { best[1]=$((best[2] + best[3])); cp "$work/lt-files.tsv" "$work/lt.tsv"; }

peer_step() { awk -F'\t' -v s="$1" '$1 == "time" && $2 == s { print $3 }' "$work/peer.times"; }
peer_eval=$(peer_step eval) peer_attend=$(peer_step attend)
row "protos" "" "$(seconds "${best[0]}")" "$(peer_step protos)" "${kbs[0]}" 0
row "sweep of 21 k (one call)" "" "$(seconds "${best[1]}")" \
  "$(awk -v a="$peer_attend" -v e="$peer_eval" 'BEGIN { print a + e }')" "${kbs[1]}" 0
row "total" "ratio>=2" "$(seconds $((best[0] + best[1])))" "$(seconds "$peer_best")" \
  "$(printf '%s\n' "${kbs[0]}" "${kbs[1]}" | sort -n | tail -n 1)" "$peer_kb"
row "  files: attend x21" "" "$(seconds "${best[2]}")" "$peer_attend" "${kbs[2]}" 0
row "  files: eval x21" "" "$(seconds "${best[3]}")" "$peer_eval" "${kbs[3]}" 0
row "  files: total" "" "$(seconds $((best[0] + best[2] + best[3])))" "$(seconds "$peer_best")" "${kbs[3]}" "$peer_kb"
print_table "k sweep, 21 values: C=$C D=$D train=$NTRAIN test=$NTEST, threads=$THREADS, best of $REPEAT
lt: $form; \"files\": the 21 classifiers composed and evaluated. Peer steps are in-process timings, peer total the whole process"
agree "accuracies of the 21 w^h(k)" tsv lt.tsv peer.tsv 0
agree "accuracies of the 21 w^h(k) files" tsv lt-files.tsv peer.tsv 0
exit $((DIFFS > 0))

#!/usr/bin/env bash
# The 21-value k sweep (k = 0, 5, ..., 100) at ImageNet-LT size: train
# NTRAIN=20000 rows, test NTEST=50000, D=2048, C=1000. lt runs it as a user
# would from the shell (prototypes, the composed classifiers, one lt-eval of
# all 21); the peer as one process (`peer.py sweep`). This is the paper's
# Fig. 5-style study, the most common use of the training-free tools.
# Target: lt >= 2x faster in total. Accuracies must be equal.
#   bench/sweep.sh              (SMALL=1: C=100 D=64 NTRAIN=4000 NTEST=2000)
# lt-attend's one-call form (-k 0,5,...,100 -o 'wh{k}.h5') is used when
# `lt-attend --help` mentions '{k}', otherwise a loop of 21 lt-attend runs;
# the table says which. The peer's per-step times are its in-process
# timings; its total is the whole process (Python start-up included).
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

if "$LT/lt-attend" --help 2>&1 | grep -q '{k}'; then
  form="one call: lt-attend -k $KS -o 'wh{k}.h5'"
  attend="\$LT/lt-attend \$T --classifier clf.h5 --protos p.h5 -k $KS -o 'wh{k}.h5'"
else
  form="loop of 21 lt-attend runs (no one-call -k LIST form in this build)"
  attend="for k in ${KS//,/ }; do \$LT/lt-attend \$T --classifier clf.h5 --protos p.h5 -k \$k -o wh\$k.h5; done"
fi
info "lt-attend: $form"
lt_protos="\$LT/lt-protos \$T train.h5 -o p.h5"
lt_eval="\$LT/lt-eval \$T test.h5 $files --names '$names' --format tsv > lt.tsv"
peer="\$PEER sweep train.h5 test.h5 clf.h5 -k $KS > peer.tsv"

# Alternate the whole lt sweep with the whole peer sweep; keep each side's best.
best=() kbs=(0 0 0) peer_best=0 peer_kb=0 lt_fail=""
for ((r = 0; r < REPEAT; r++)); do
  i=0
  for cmd in "$lt_protos" "$attend" "$lt_eval"; do
    if [[ -z $lt_fail ]]; then
      measure "$LT_VMEM_GB" "$cmd"
      if ((RC_ != 0)); then lt_fail="step $i exited $RC_: $(tail -n 1 "$work/.err")"; fi
      if ((${best[i]:-0} == 0 || US_ < ${best[i]:-0})); then best[i]=$US_; fi
      ((KB_ > ${kbs[i]:-0})) && kbs[i]=$KB_
    fi
    i=$((i + 1))
  done
  measure "$PEER_VMEM_GB" "$peer"
  ((RC_ == 0)) || { cat "$work/.err" >&2; exit 1; }
  if ((peer_best == 0 || US_ < peer_best)); then
    peer_best=$US_ peer_kb=$KB_
    cp "$work/.err" "$work/peer.times"
  fi
  info "run $((r + 1)): lt $(seconds $((best[0] + best[1] + best[2]))) s, peer $(seconds $US_) s"
done
[[ -z $lt_fail ]] || { echo "bench: lt failed: $lt_fail" >&2; exit 1; }

peer_step() { awk -F'\t' -v s="$1" '$1 == "time" && $2 == s { print $3 }' "$work/peer.times"; }
row "protos" "" "$(seconds "${best[0]}")" "$(peer_step protos)" "${kbs[0]}" 0
row "attend x21" "" "$(seconds "${best[1]}")" "$(peer_step attend)" "${kbs[1]}" 0
row "eval x21" "" "$(seconds "${best[2]}")" "$(peer_step eval)" "${kbs[2]}" 0
max_kb=$(printf '%s\n' "${kbs[@]}" | sort -n | tail -n 1)
row "total" "ratio>=2" "$(seconds $((best[0] + best[1] + best[2])))" "$(seconds "$peer_best")" "$max_kb" "$peer_kb"
print_table "k sweep, 21 values: C=$C D=$D train=$NTRAIN test=$NTEST, threads=$THREADS, best of $REPEAT
lt-attend: $form; peer steps are in-process timings, peer total the whole process"
agree "accuracies of the 21 w^h(k)" tsv lt.tsv peer.tsv 0
exit $((DIFFS > 0))

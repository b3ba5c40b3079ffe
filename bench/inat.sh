#!/usr/bin/env bash
# Every training-free core tool at iNaturalist-2018 size against the peer:
# C = 8,142 classes, D = 2,048, train NTRAIN = 437,513 rows (the real
# iNat2018 train size: 3.6 GB of float32 features, streamed by both sides),
# test NTEST = 24,426 (its validation size, 3 per class), train counts of the
# exponential profile with imbalance 500 (iNat2018's 1000/2), which gives
# ~1,600 many, ~2,100 medium and ~4,400 few-shot classes. Steps: lt-protos;
# lt-attend for k = 0, 20, 100 (one call when lt-attend takes a k list,
# else three); lt-ensemble of the three; lt-eval of the classifier, w^h(20)
# and the ensemble; lt-compat --mismatch, --sharpness, --neighbours 10.
# Target: lt faster than NumPy in every step; outputs agree.
#   bench/inat.sh               C, D, NTRAIN, NTEST, IMBALANCE by env; SMALL=1 =
#                               C=300 D=64 NTRAIN=6000 NTEST=900
source "$(dirname "$0")/lib.sh"
if [[ ${SMALL:-0} == 1 ]]; then : "${C:=300}" "${D:=64}" "${NTRAIN:=6000}" "${NTEST:=900}"; fi
C=${C:-8142} D=${D:-2048} NTRAIN=${NTRAIN:-437513} NTEST=${NTEST:-24426} IMBALANCE=${IMBALANCE:-500}

info "generating C=$C D=$D train=$NTRAIN test=$NTEST in $work"
generate --classes "$C" --dim "$D" --train "$NTRAIN" --test "$NTEST" --imbalance "$IMBALANCE"
cat "$work"/*.h5 >/dev/null  # page cache, as right after extraction

use() { if [[ -s $work/$1 ]]; then echo "$1"; else info "lt has no $1: lt's next step reads the peer's $2"; echo "$2"; fi; }
compat() { echo "\$LT/lt-compat \$T --classifier clf.h5 --protos $p $1 > lt.$2"; }

pair "lt-protos" "ratio>=1" "\$LT/lt-protos \$T train.h5 -o p.h5" "\$PEER protos train.h5 pp.h5"
p=$(use p.h5 pp.h5)
if "$LT/lt-attend" --help 2>&1 | grep -q '{k}'; then
  attend="\$LT/lt-attend \$T --classifier clf.h5 --protos $p -k 0,20,100 -o 'wh{k}.h5'" form="one call"
else
  attend="for k in 0 20 100; do \$LT/lt-attend \$T --classifier clf.h5 --protos $p -k \$k -o wh\$k.h5; done" form="3 calls"
fi
pair "lt-attend k=0,20,100 ($form)" "ratio>=1" "$attend" "\$PEER attend clf.h5 pp.h5 -k 0,20,100 -o 'pwh{k}.h5'"
w0=$(use wh0.h5 pwh0.h5) w20=$(use wh20.h5 pwh20.h5) w100=$(use wh100.h5 pwh100.h5)
pair "lt-ensemble of 3" "ratio>=1" "\$LT/lt-ensemble $w0 $w20 $w100 -o ens.h5" \
  "\$PEER ensemble pwh0.h5 pwh20.h5 pwh100.h5 -o pens.h5"
ens=$(use ens.h5 pens.h5)
pair "lt-eval clf, wh20, ensemble" "ratio>=1" \
  "\$LT/lt-eval \$T test.h5 clf.h5 $w20 $ens --names clf,wh20,ens --format tsv > lt.eval" \
  "\$PEER eval test.h5 clf.h5 pwh20.h5 pens.h5 --names clf,wh20,ens > peer.eval"
pair "lt-compat --mismatch" "ratio>=1" "$(compat --mismatch mismatch)" "\$PEER mismatch clf.h5 pp.h5 > peer.mismatch"
pair "lt-compat --sharpness" "ratio>=1" "$(compat --sharpness sharpness)" "\$PEER sharpness clf.h5 pp.h5 > peer.sharpness"
pair "lt-compat --neighbours 10" "ratio>=1" "$(compat '--neighbours 10' neighbours)" \
  "\$PEER neighbours clf.h5 pp.h5 -n 10 > peer.neighbours"
steps=("lt-protos" "lt-attend k=0,20,100 ($form)" "lt-ensemble of 3" "lt-eval clf, wh20, ensemble"
  "lt-compat --mismatch" "lt-compat --sharpness" "lt-compat --neighbours 10")
row "total" "ratio>=1" "$(sum_steps 3 "${steps[@]}")" "$(sum_steps 4 "${steps[@]}")" \
  "$(max_col 5 "${steps[@]}")" "$(max_col 6 "${steps[@]}")"
print_table "iNaturalist-2018 size: C=$C D=$D train=$NTRAIN test=$NTEST, threads=$THREADS, best of $REPEAT"
echo "agreement:"
agree "prototypes" h5 p.h5 pp.h5
for k in 0 20 100; do agree "w^h($k)" h5 "wh$k.h5" "pwh$k.h5"; done
agree "ensemble" h5 ens.h5 pens.h5
agree "accuracies" tsv lt.eval peer.eval 0
agree "mismatches" tsv lt.mismatch peer.mismatch 0
agree "sharpness" tsv lt.sharpness peer.sharpness 1e-5
agree "neighbours" tsv lt.neighbours peer.neighbours 1e-5
exit $((DIFFS > 0))

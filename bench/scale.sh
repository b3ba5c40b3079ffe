#!/usr/bin/env bash
# Scaling to C = 100,000 classes (D = 512, train 200k rows, test 100k): the
# size where a [C, C] matrix no longer fits in memory (80 GB in float64), so
# a tool must work in row blocks. Steps: lt-protos, lt-attend -k 20, lt-eval,
# lt-compat --mismatch against the peer's same steps, each with its peak RSS.
# Targets: lt below 8 GiB peak in every step, lt >= 1.5x faster in total;
# outputs agree (files to 1e-5, accuracies and mismatches equal).
#   bench/scale.sh              C, D, NTRAIN, NTEST, NMAX by env; SMALL=1 =
#                               C=200 D=64 NTRAIN=4000 NTEST=2000
# Each command runs under `ulimit -v` (LT_VMEM_GB, PEER_VMEM_GB, default 12),
# so running out of memory is an error, not a swap storm. A step whose lt
# input is missing (its lt producer failed) reads the peer's file instead.
# Train counts: the exponential profile with n_max = NMAX (default 200) and
# the imbalance solved to give NTRAIN rows (at 2 rows a class, most classes
# are one-shot; S(20) still has ~1,200 source classes).
source "$(dirname "$0")/lib.sh"
if [[ ${SMALL:-0} == 1 ]]; then : "${C:=200}" "${D:=64}" "${NTRAIN:=4000}" "${NTEST:=2000}"; fi
C=${C:-100000} D=${D:-512} NTRAIN=${NTRAIN:-200000} NTEST=${NTEST:-100000} NMAX=${NMAX:-200}

info "generating C=$C D=$D train=$NTRAIN test=$NTEST in $work"
generate --classes "$C" --dim "$D" --train "$NTRAIN" --test "$NTEST" --n-max "$NMAX"
cat "$work"/*.h5 >/dev/null  # page cache, as right after extraction

# lt's own upstream output if it made one, else the peer's (noted).
use() { if [[ -s $work/$1 ]]; then echo "$1"; else info "lt has no $1: lt's next step reads the peer's $2"; echo "$2"; fi; }

pair "lt-protos" "lt_mib<8192" "\$LT/lt-protos \$T train.h5 -o p.h5" "\$PEER protos train.h5 pp.h5"
p=$(use p.h5 pp.h5)
pair "lt-attend -k 20" "lt_mib<8192" "\$LT/lt-attend \$T --classifier clf.h5 --protos $p -k 20 -o wh20.h5" \
  "\$PEER attend clf.h5 pp.h5 -k 20 -o pwh20.h5"
wh=$(use wh20.h5 pwh20.h5)
pair "lt-eval" "lt_mib<8192" "\$LT/lt-eval \$T test.h5 $wh --names wh20 --format tsv > lt.eval" \
  "\$PEER eval test.h5 pwh20.h5 --names wh20 > peer.eval"
pair "lt-compat --mismatch" "lt_mib<8192" "\$LT/lt-compat \$T --classifier clf.h5 --protos $p --mismatch > lt.mismatch" \
  "\$PEER mismatch clf.h5 pp.h5 > peer.mismatch"
steps=("lt-protos" "lt-attend -k 20" "lt-eval" "lt-compat --mismatch")
row "total" "ratio>=1.5,lt_mib<8192" "$(sum_steps 3 "${steps[@]}")" "$(sum_steps 4 "${steps[@]}")" \
  "$(max_col 5 "${steps[@]}")" "$(max_col 6 "${steps[@]}")"
print_table "scale: C=$C D=$D train=$NTRAIN test=$NTEST, threads=$THREADS, best of $REPEAT, ulimit -v ${LT_VMEM_GB} GiB"
echo "agreement:"
agree "prototypes" h5 p.h5 pp.h5
agree "w^h(20)" h5 wh20.h5 pwh20.h5
agree "accuracies" tsv lt.eval peer.eval 0
agree "mismatches" tsv lt.mismatch peer.mismatch 0
exit $((DIFFS > 0))

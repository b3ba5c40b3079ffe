#!/usr/bin/env bash
# Checks the NumPy peer against lt's own outputs on small data (C=50, D=32 by
# default), so that the benchmarks compare two implementations of the same
# thing: prototypes, w^h(k) for several k and tau, an ensemble (files, to
# 1e-5), lt-eval --format tsv (accuracies equal), lt-compat --mismatch
# (equal), --sharpness and --neighbours (to 1e-5), and the one-process sweep.
# Twice: on gen.py's files, and on a "scrambled" copy (scattered, unsorted
# class ids, shuffled classifier rows, float64 features, some labels -1,
# classifier scale 14.5).
#   bench/check-peer.sh         (C, D, NTRAIN, NTEST by env; BUILD=dir)
source "$(dirname "$0")/lib.sh"
C=${C:-50} D=${D:-32} NTRAIN=${NTRAIN:-3000} NTEST=${NTEST:-1000}
mkdir "$work/plain"
$GEN "$work/plain" --classes "$C" --dim "$D" --train "$NTRAIN" --test "$NTEST" 2>/dev/null
mkdir "$work/scrambled"
$PY - "$work/plain" "$work/scrambled" <<'PY'
import sys, h5py, numpy as np
src, dst = sys.argv[1:]
rng = np.random.default_rng(7)
def copy_attrs(a, b):
    for k, v in a.attrs.items(): b.attrs[k] = v
for name in ("train", "test"):
    with h5py.File(f"{src}/{name}.h5") as a, h5py.File(f"{dst}/{name}.h5", "w") as b:
        copy_attrs(a, b)
        labels = a["labels"][:] * 7 + 3
        big = np.bincount(labels)[labels] > 5  # keep every class in train
        labels[(rng.random(len(labels)) < 0.03) & (big | (name == "test"))] = -1
        b["features"] = a["features"][:].astype(np.float64)
        b["labels"] = labels.astype(np.int32)
with h5py.File(f"{src}/clf.h5") as a, h5py.File(f"{dst}/clf.h5", "w") as b:
    copy_attrs(a, b)
    b.attrs["scale"] = 14.5
    order = rng.permutation(len(a["class_ids"]))
    b["weights"] = a["weights"][:][order]
    b["class_ids"] = a["class_ids"][:][order] * 7 + 3
    b["class_counts"] = a["class_counts"][:][order]
PY

check() {  # check NAME 'lt command' 'peer command' KIND LT_OUT PEER_OUT [TOL]
  measure 0 "$2" && ((RC_ == 0)) || { echo "FAIL lt: $2: $(tail -n 1 "$work/.err")"; DIFFS=$((DIFFS + 1)); return; }
  measure 0 "$3" && ((RC_ == 0)) || { echo "FAIL peer: $3: $(tail -n 1 "$work/.err")"; DIFFS=$((DIFFS + 1)); return; }
  agree "$1" "$4" "$5" "$6" "${7:-}"
}

ks=0,5,20,100
for set in plain scrambled; do
  echo "$set (C=$C D=$D train=$NTRAIN test=$NTEST):"
  s=$set
  check "$s prototypes" "\$LT/lt-protos $s/train.h5 -o $s/p.h5" "\$PEER protos $s/train.h5 $s/pp.h5" h5 $s/p.h5 $s/pp.h5
  for tau in 10 0 1e300; do
    lt="for k in ${ks//,/ }; do \$LT/lt-attend --classifier $s/clf.h5 --protos $s/p.h5 -k \$k --tau $tau -o $s/wh\$k-$tau.h5 || exit; done"
    measure 0 "$lt"; ((RC_ == 0)) || { echo "FAIL lt-attend: $(tail -n 1 "$work/.err")"; DIFFS=$((DIFFS + 1)); }
    measure 0 "\$PEER attend $s/clf.h5 $s/pp.h5 -k $ks --tau $tau -o '$s/pwh{k}-$tau.h5'"
    ((RC_ == 0)) || { echo "FAIL peer attend: $(tail -n 1 "$work/.err")"; DIFFS=$((DIFFS + 1)); }
    for k in ${ks//,/ }; do agree "$s w^h($k) tau=$tau" h5 "$s/wh$k-$tau.h5" "$s/pwh$k-$tau.h5"; done
  done
  check "$s ensemble" "\$LT/lt-ensemble $s/wh0-10.h5 $s/wh20-10.h5 $s/p.h5 -o $s/ens.h5" \
    "\$PEER ensemble $s/pwh0-10.h5 $s/pwh20-10.h5 $s/pp.h5 -o $s/pens.h5" h5 $s/ens.h5 $s/pens.h5
  names=clf,protos,wh0,wh5,wh20,wh100,ens
  check "$s eval" \
    "\$LT/lt-eval $s/test.h5 $s/clf.h5 $s/p.h5 $s/wh{0,5,20,100}-10.h5 $s/ens.h5 --names $names --format tsv > $s/lt.eval" \
    "\$PEER eval $s/test.h5 $s/clf.h5 $s/pp.h5 $s/pwh{0,5,20,100}-10.h5 $s/pens.h5 --names $names > $s/peer.eval" \
    tsv $s/lt.eval $s/peer.eval 0
  check "$s mismatch" "\$LT/lt-compat --classifier $s/clf.h5 --protos $s/p.h5 --mismatch > $s/lt.mm" \
    "\$PEER mismatch $s/clf.h5 $s/pp.h5 > $s/peer.mm" tsv $s/lt.mm $s/peer.mm 0
  check "$s sharpness" "\$LT/lt-compat --classifier $s/clf.h5 --protos $s/p.h5 --sharpness > $s/lt.sh" \
    "\$PEER sharpness $s/clf.h5 $s/pp.h5 > $s/peer.sh" tsv $s/lt.sh $s/peer.sh 1e-5
  check "$s neighbours" "\$LT/lt-compat --classifier $s/clf.h5 --protos $s/p.h5 --neighbours 10 > $s/lt.nb" \
    "\$PEER neighbours $s/clf.h5 $s/pp.h5 -n 10 > $s/peer.nb" tsv $s/lt.nb $s/peer.nb 1e-5
  check "$s sweep (lt: lt-eval of the lt-attend files)" \
    "\$LT/lt-eval $s/test.h5 $s/wh{0,5,20,100}-10.h5 --names k=0,k=5,k=20,k=100 --format tsv > $s/lt.sweep" \
    "\$PEER sweep $s/train.h5 $s/test.h5 $s/clf.h5 -k $ks > $s/peer.sweep" tsv $s/lt.sweep $s/peer.sweep 0
done
echo "$DIFFS difference(s)"
exit $((DIFFS > 0))

#!/usr/bin/env bash
# The runnable examples (examples/*/), on generated features (tests/ref/gen.py):
#   k-sweep      its rows equal lt-attend + lt-eval run one k at a time; a k
#                with no source class is skipped with a note
#   new-classes  with a base classifier that lacks every few-shot class (and
#                one that also lacks a medium class): the "new" column
#                (lt-eval --groups) is 0 for the base classifier, not for w^hc
#                and the ensemble, and the mean over the new classes
#   python       read_lt.py's numpy prototypes match lt-protos and its top-1
#                matches lt-eval; export_torchvision.py (when torchvision is
#                installed) writes weights lt-extract --init loads
set -u
. "$(dirname "$0")/../ref/env.sh" lt-protos lt-attend lt-ensemble lt-eval
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
E=$LT_SRC/examples
G=$WORK/gen
"$PY" "$REF/gen.py" data "$G" >/dev/null || { echo "FAIL: gen.py"; exit 1; }

# ---- k-sweep
if "$E/k-sweep/run.sh" "$G/model.h5" "$G/train.h5" "$G/test.h5" 0 5 20 100 1000 >"$WORK/sweep.tsv" 2>"$WORK/sweep.err"; then
  [ "$(cut -f1 "$WORK/sweep.tsv" | paste -sd' ')" = "k 0 5 20 100" ] || fail "k-sweep rows: $(cut -f1 "$WORK/sweep.tsv" | paste -sd' ')"
  grep -q "k=1000 skipped" "$WORK/sweep.err" || fail "k-sweep: no note for k=1000"
  lt-protos -q "$G/train.h5" -o "$WORK/protos.h5"
  lt-attend -q --classifier "$G/model.h5" --protos "$WORK/protos.h5" -k 20 -o "$WORK/wh20.h5"
  want=$(lt-eval -q "$G/test.h5" "$WORK/wh20.h5" --names 20 --format tsv | tail -n 1)
  [ "$(grep '^20	' "$WORK/sweep.tsv")" = "$want" ] || fail "k-sweep k=20: '$(grep '^20	' "$WORK/sweep.tsv")' vs '$want'"
else
  fail "k-sweep/run.sh: $(tail -n 3 "$WORK/sweep.err")"
fi

# ---- new-classes: the base classifier lacks every class with < 20 training samples
# base_classifier OUT [also-medium]: clf.h5 without them (and without its first medium class)
base_classifier() {
  "$PY" - "$G/clf.h5" "$@" <<'EOF' || fail "making the base classifier $1"
import sys, h5py, numpy as np
src, dst, also_medium = sys.argv[1], sys.argv[2], len(sys.argv) > 3
with h5py.File(src) as f, h5py.File(dst, "w") as g:
    counts = f["class_counts"][...]
    keep = counts >= 20
    if also_medium:
        keep[np.flatnonzero((counts >= 20) & (counts <= 100))[0]] = False
    for k, v in f.attrs.items():
        g.attrs[k] = v
    for name in ("weights", "class_ids", "class_counts"):
        g[name] = f[name][...][keep]
EOF
}
base_classifier "$WORK/base.h5"
# new_column DIR ROW: the last column of the table (the --groups column "new")
new_column() { grep -F "$2" "$1/table.txt" | awk '{print $NF}'; }
# new_mean DIR: per classifier, the mean of per-class accuracies over the
# classes whose group holds "new" in per-class.tsv, to 1 decimal
new_mean() {
  "$PY" -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter="\t"))
new = [r for r in rows[1:] if "new" in r[3].split(",")]
print(*("%.1f" % (sum(float(r[5 + i]) for r in new) / len(new)) for i in range(len(rows[0]) - 5)))' "$1/per-class.tsv"
}
if "$E/new-classes/run.sh" --out "$WORK/nc" --model "$WORK/base.h5" --train-features "$G/train.h5" \
     --test-features "$G/test.h5" >"$WORK/nc.out" 2>"$WORK/nc.err"; then
  # table rows: name ... many medium few total new; new = the classes the model lacks
  [ "$(head -1 "$WORK/nc/table.txt" | awk '{print $NF}')" = new ] || fail "new-classes: no 'new' column: $(head -1 "$WORK/nc/table.txt")"
  [ "$(new_column "$WORK/nc" 'base cosine classifier')" = "0.0" ] || fail "new-classes: base classifier new = $(new_column "$WORK/nc" 'base cosine classifier')"
  for row in "prototypes" "w^hc(20)" "w^hc(100)" "ensemble(p; w^hc(20); w^hc(100))"; do
    awk -v v="$(new_column "$WORK/nc" "$row")" 'BEGIN {exit !(v + 0 > 10)}' || fail "new-classes: $row new = $(new_column "$WORK/nc" "$row")"
  done
  for f in protos.h5 whc20.h5 whc100.h5 ensemble.h5; do [ -s "$WORK/nc/$f" ] || fail "new-classes: no $f"; done
  want=$("$PY" -c '
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
print(*sorted(f["class_ids"][()][f["class_counts"][()] < 20]))' "$G/clf.h5")
  grep -qxF "new classes (not in the model): $want" "$WORK/nc/table.txt" || fail "new-classes: new classes are not $want"
  [ "$(awk 'NR > 1 && NR <= 6 {print $NF}' "$WORK/nc/table.txt" | paste -sd' ')" = "$(new_mean "$WORK/nc")" ] ||
    fail "new-classes: the new column is not the mean over the new classes of per-class.tsv"
else
  fail "new-classes/run.sh: $(tail -n 3 "$WORK/nc.err")"
fi
# A base model that also lacks a medium class: the new group holds it too.
base_classifier "$WORK/base2.h5" also-medium
if "$E/new-classes/run.sh" --out "$WORK/nc2" --model "$WORK/base2.h5" --train-features "$G/train.h5" \
     --test-features "$G/test.h5" >"$WORK/nc2.out" 2>"$WORK/nc2.err"; then
  medium=$("$PY" -c '
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
c = f["class_counts"][()]
print(f["class_ids"][()][np.flatnonzero((c >= 20) & (c <= 100))[0]])' "$G/clf.h5")
  awk -F'\t' -v id="$medium" '$1 == id {exit !($4 == "medium,new")} ' "$WORK/nc2/per-class.tsv" ||
    fail "new-classes: class $medium is not 'medium,new' in per-class.tsv"
  grep -F "new classes (not in the model): " "$WORK/nc2/table.txt" | grep -qw "$medium" ||
    fail "new-classes: $medium is not listed as new"
  [ "$(new_column "$WORK/nc2" 'base cosine classifier')" = "0.0" ] || fail "new-classes: base classifier new (with a medium class new)"
  [ "$(awk 'NR > 1 && NR <= 6 {print $NF}' "$WORK/nc2/table.txt" | paste -sd' ')" = "$(new_mean "$WORK/nc2")" ] ||
    fail "new-classes: the new column (with a medium class new) is not the mean over the new classes"
else
  fail "new-classes/run.sh with a medium class new: $(tail -n 3 "$WORK/nc2.err")"
fi

# ---- python: reading lt files
lt-ensemble -q "$WORK/wh20.h5" "$WORK/protos.h5" -o "$WORK/ens.h5"
if "$PY" "$E/python/read_lt.py" --model "$G/model.h5" --train "$G/train.h5" --test "$G/test.h5" \
     --protos "$WORK/protos.h5" --classifier "$WORK/ens.h5" >"$WORK/py.out" 2>&1; then
  diff=$(sed -n 's/.*largest difference from .*: //p' "$WORK/py.out")
  awk -v d="$diff" 'BEGIN {exit !(d != "" && d + 0 < 1e-5)}' || fail "read_lt.py prototypes differ by '$diff'"
  # top-1 in numpy vs lt-eval's total (the same definition: labelled samples)
  for pair in "cosine classifier:$G/model.h5" "ens.h5:$WORK/ens.h5"; do
    ours=$(grep -F "${pair%%:*}" "$WORK/py.out" | grep -oE '[0-9.]+%$' | tr -d %)
    theirs=$(lt-eval -q "$G/test.h5" "${pair#*:}" --format tsv | tail -n 1 | cut -f5)
    awk -v a="$ours" -v b="$theirs" 'BEGIN {d = a - b; exit !(a != "" && d < 0.01 && d > -0.01)}' ||
      fail "read_lt.py top-1 of ${pair%%:*}: $ours vs lt-eval $theirs"
  done
else
  fail "read_lt.py: $(tail -n 3 "$WORK/py.out")"
fi

# ---- python: torchvision weights for --init (needs python3-torchvision)
if "$PY" -c 'import torch, torchvision' 2>/dev/null && [ -x "$LT_BIN/lt-extract" ]; then
  if "$PY" "$E/python/export_torchvision.py" --arch resnet18 -o "$WORK/r18.h5" 2>"$WORK/export.err"; then
    # two tiny PPM images (OpenCV reads them) and a list
    mkdir -p "$WORK/img"
    for i in 0 1; do
      { printf 'P6\n8 8\n255\n'; head -c 192 /dev/urandom; } >"$WORK/img/$i.ppm"
      echo "$i.ppm $i" >>"$WORK/img/list.txt"
    done
    if lt-extract -q --arch resnet18 --init "$WORK/r18.h5" --list "$WORK/img/list.txt" --root "$WORK/img" \
         -o "$WORK/r18-feats.h5" 2>"$WORK/extract.err"; then
      shape=$("$PY" -c 'import h5py,sys; print(h5py.File(sys.argv[1])["features"].shape)' "$WORK/r18-feats.h5")
      [ "$shape" = "(2, 512)" ] || fail "lt-extract with exported resnet18: features $shape"
    else
      fail "lt-extract --init exported weights: $(cat "$WORK/extract.err")"
    fi
  else
    fail "export_torchvision.py: $(tail -n 2 "$WORK/export.err")"
  fi
else
  echo "note: torchvision (or lt-extract) missing: export_torchvision.py not exercised"
fi

[ $failures -eq 0 ] || exit 1
echo "ok: examples"

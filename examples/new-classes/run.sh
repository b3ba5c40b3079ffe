#!/usr/bin/env bash
# Adding new classes without training (paper Table 2, "few-shot classes
# excluded"): train a backbone without the few-shot classes, then give them
# classifier rows from their prototypes alone with w^hc (docs/method.md Eq. 9,
# lt-attend --continual) and report their accuracy.
#
#   examples/new-classes/run.sh [--data DIR] [--out DIR] [--epochs E] [--config RECIPE] [--few N]
#   examples/new-classes/run.sh --out DIR --model BASE.h5 --train-features TRAIN.h5 --test-features TEST.h5
#
# --data DIR: an lt-data folder (train.txt, val.txt, test.txt, images);
#   default data/fashion-mnist-lt, made with lt-data fashion-mnist if missing.
# --few N: the classes with fewer than N training images are the new ones
#   (default 20: the few-shot group). They are removed from the train and val
#   lists with grep, the backbone is trained on the rest (lt-train), features
#   of the FULL train list and of the test list are extracted with it.
# --model/--train-features/--test-features: skip training and extraction; the
#   new classes are those of the train features that the model lacks.
# Output in --out (default results/new-classes): the files, table.txt (with a
#   "new" column: lt-eval --groups groups.txt) and per-class.tsv.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
command -v lt-attend >/dev/null || export PATH="$here/build/bin:$PATH"

data=data/fashion-mnist-lt out=results/new-classes epochs= config=fashion-mnist-lt few=20
model= train_features= test_features=
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --few) few=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --train-features) train_features=$2; shift 2 ;;
    --test-features) test_features=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "new-classes: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
say() { echo "new-classes: $*" >&2; }
tools=(lt-protos lt-attend lt-ensemble lt-eval lt-info)
[ -n "$model" ] || tools+=(lt-data lt-train lt-extract)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null ||
    { say "$tool not found: build lt (scripts/setup.sh) or put its bin/ folder on PATH"; exit 1; }
done

if [ -z "$model" ]; then
  if [ ! -f "$data/train.txt" ]; then
    say "making $data with lt-data fashion-mnist"
    lt-data fashion-mnist -o "$data"
  fi
  # The new classes: fewer than $few training images (counted on the list).
  new=$(awk -v few="$few" '{n[$NF]++} END {for (c in n) if (n[c] < few) print c}' "$data/train.txt" | sort -n)
  [ -n "$new" ] || { say "no class has fewer than $few training images"; exit 1; }
  pattern=" ($(echo $new | tr ' ' '|'))\$"
  say "new classes (left out of training): $(echo $new)"
  grep -v -E "$pattern" "$data/train.txt" > "$out/train-base.txt"
  grep -v -E "$pattern" "$data/val.txt" > "$out/val-base.txt"
  lt-train --config "$config" --train-list "$out/train-base.txt" --val-list "$out/val-base.txt" \
    --root "$data" ${epochs:+--epochs "$epochs"} --log "$out/train.jsonl" -o "$out/model-base.h5"
  lt-extract --model "$out/model-base.h5" --list "$data/train.txt" --root "$data" -o "$out/train.h5"
  lt-extract --model "$out/model-base.h5" --list "$data/test.txt" --root "$data" -o "$out/test.h5"
  model=$out/model-base.h5 train_features=$out/train.h5 test_features=$out/test.h5
elif [ -z "$train_features" ] || [ -z "$test_features" ]; then
  say "--model needs --train-features and --test-features"
  exit 2
fi

# Prototypes of every class, the new ones included (Eq. 3).
lt-protos "$train_features" -o "$out/protos.h5"
# w^hc(k) = normalize(w^kt(k)) + p (Eq. 9): no learned row needed, so the new
# classes get rows too; the sources S(k) are classes the model knows.
for k in 20 100; do
  lt-attend --classifier "$model" --protos "$out/protos.h5" --continual -k "$k" -o "$out/whc$k.h5"
done
lt-ensemble "$out/protos.h5" "$out/whc20.h5" "$out/whc100.h5" -o "$out/ensemble.h5"

# Groups from the full train counts, and the new classes (in the prototypes,
# not in the model, read from the files) as a group of their own: the "new"
# column is their accuracy whichever shot groups they fall in.
ids_of() { lt-info --class-counts "$1" | awk 'NR > 1 {print $1}'; }
new_ids=$(comm -23 <(ids_of "$out/protos.h5" | sort) <(ids_of "$model" | sort) | sort -n)
printf '%s new\n' $new_ids >"$out/groups.txt"
lt-eval "$test_features" "$model" "$out/protos.h5" "$out/whc20.h5" "$out/whc100.h5" "$out/ensemble.h5" \
  --counts "$out/protos.h5" --few "$few" ${new_ids:+--groups "$out/groups.txt"} --per-class "$out/per-class.tsv" \
  --names "base cosine classifier (no row for new classes),prototypes,w^hc(20),w^hc(100),ensemble(p; w^hc(20); w^hc(100))" \
  | tee "$out/table.txt"
echo "new classes (not in the model): $(echo ${new_ids:-none})" | tee -a "$out/table.txt"

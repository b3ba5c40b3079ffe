#!/usr/bin/env bash
# k sweep from the shell in two calls: lt-attend writes w^h(k) for every k at
# once (the similarities computed once), lt-eval scores them all from one
# read of the test features. The classifiers go to a temporary folder.
#
#   examples/k-sweep/run.sh MODEL.h5 TRAIN_FEATS.h5 TEST_FEATS.h5 [K ...] > sweep.tsv
#
# Prints one TSV row per k (k, many, medium, few, total; percent, full
# precision). Default k: 0 1 2 5 10 20 50 100 200 500. A k at or above the
# largest training count leaves no source class and is skipped with a note.
# Tools are taken from PATH, else from ./build/bin.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
command -v lt-attend >/dev/null || export PATH="$here/build/bin:$PATH"
model=$1 train=$2 test=$3
shift 3
ks=("$@")
[ ${#ks[@]} -gt 0 ] || ks=(0 1 2 5 10 20 50 100 200 500)

for tool in lt-protos lt-attend lt-eval; do
  command -v "$tool" >/dev/null ||
    { echo "k-sweep: $tool not found: build lt (scripts/setup.sh) or put its bin/ folder on PATH" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lt-protos -q "$train" -o "$work/protos.h5"

list() { local IFS=,; echo "$*"; }
sweep() { lt-attend -q --classifier "$model" --protos "$work/protos.h5" -k "$(list "${ks[@]}")" -o "$work/wh{k}.h5" 2>"$work/err"; }
if ! sweep; then
  # A k that leaves no source class fails the whole call: the message says
  # the largest count; keep the k below it.
  largest=$(sed -n 's/.* has at most \([0-9]*\) training samples.*/\1/p' "$work/err")
  [ -n "$largest" ] || { cat "$work/err" >&2; exit 1; }
  kept=()
  for k in "${ks[@]}"; do
    if [ "$k" -lt "$largest" ]; then kept+=("$k"); else echo "k-sweep: k=$k skipped: no class has more than $k training samples" >&2; fi
  done
  [ ${#kept[@]} -gt 0 ] || { echo "k-sweep: every k leaves no source class" >&2; exit 1; }
  ks=("${kept[@]}")
  sweep || { cat "$work/err" >&2; exit 1; }
fi
files=()
for k in "${ks[@]}"; do files+=("$work/wh$k.h5"); done
echo -e "k\tmany\tmedium\tfew\ttotal"
lt-eval -q "$test" "${files[@]}" --names "$(list "${ks[@]}")" --format tsv | tail -n +2

#!/usr/bin/env bash
# k sweep from the shell: w^h(k) for each k, composed by lt-attend and piped
# straight into lt-eval; nothing but the prototypes is written to disk.
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

echo -e "k\tmany\tmedium\tfew\ttotal"
for k in "${ks[@]}"; do
  if ! row=$(lt-attend -q --classifier "$model" --protos "$work/protos.h5" -k "$k" -o - 2>"$work/err" |
             lt-eval -q "$test" - --names "$k" --format tsv 2>"$work/eval-err" | tail -n +2); then
    echo "k-sweep: k=$k skipped: $(cat "$work/err" "$work/eval-err" | head -n 1)" >&2
    continue
  fi
  echo "$row"
done

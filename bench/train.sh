#!/usr/bin/env bash
# lt-train on the default recipe (fashion-mnist-lt) against the in-memory
# PyTorch loop a user would run instead (bench/train-peer.py), the same
# threads; and lt-train's data-parallel scaling: 2 processes x 1 thread
# against 1 process x 1 thread.
#   bench/train.sh [BUILD_DIR]          (default build)
#   EPOCHS=3 THREADS=$(nproc) REPEAT=2 bench/train.sh
# Rates are images/s of the epochs after the first (lt-train's --log
# train_images_per_s; the peer prints the same), best of REPEAT alternating
# runs. Targets: lt-train >= 1.2x the peer, 2 processes >= 1.7x one.
# Needs dataset-fashion-mnist and python3-torch (torchrun is used for the 2
# processes when present, scripts/lt-launch otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
EPOCHS=${EPOCHS:-3} THREADS=${THREADS:-$(nproc)} REPEAT=${REPEAT:-2}
/usr/bin/python3 -c 'import torch, PIL' 2>/dev/null ||
  { echo "bench/train.sh needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
cmake --build "$build" -j2 --target lt-train lt-data >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$build/bin/lt-data" fashion-mnist -q -o "$work/fm"
if command -v torchrun >/dev/null; then
  launch2=(torchrun --standalone --nproc_per_node 2 --redirects 2 --tee 2 --no_python)
else
  launch2=(scripts/lt-launch --nproc_per_node 2)
fi
TRAIN=(--config fashion-mnist-lt --train-list "$work/fm/train.txt" --root "$work/fm" --epochs "$EPOCHS" -q)

# rate LOG: mean images/s of the epochs after the first, from a --log file
rate() { /usr/bin/python3 -c '
import json, sys
rates = [json.loads(line)["train_images_per_s"] for line in open(sys.argv[1])][1:]
print(sum(rates) / len(rates))' "$1"; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a) ? b : a }'; }

lt=0 peer=0 one=0 two=0
for _ in $(seq "$REPEAT"); do
  "$build/bin/lt-train" "${TRAIN[@]}" --threads "$THREADS" -o "$work/m.h5" --log "$work/lt.jsonl"
  lt=$(best "$lt" "$(rate "$work/lt.jsonl")")
  /usr/bin/python3 bench/train-peer.py --list "$work/fm/train.txt" --root "$work/fm" --threads "$THREADS" \
    --epochs "$EPOCHS" >"$work/peer.out"
  peer=$(best "$peer" "$(awk 'NR > 1 { s += $NF; n++ } END { print s / n }' "$work/peer.out")")
  "$build/bin/lt-train" "${TRAIN[@]}" --threads 1 --workers 1 -o "$work/one.h5" --log "$work/one.jsonl"
  one=$(best "$one" "$(rate "$work/one.jsonl")")
  PATH=$PWD/$build/bin:$PATH "${launch2[@]}" lt-train "${TRAIN[@]}" --threads 1 --workers 1 -o "$work/two.h5" \
    --log "$work/two.jsonl" 2>"$work/two.err" || { cat "$work/two.err" >&2; exit 1; }
  two=$(best "$two" "$(rate "$work/two.jsonl")")
done
awk -v lt="$lt" -v peer="$peer" -v one="$one" -v two="$two" -v t="$THREADS" -v e="$EPOCHS" 'BEGIN {
  printf "data                 fashion-mnist-lt (2,773 images), resnet20 at 28 px, batch 128, epochs 2..%d of %d\n", e, e
  printf "lt-train             %.0f images/s  (%d threads)\n", lt, t
  printf "PyTorch peer         %.0f images/s  (%d threads, images in memory)\n", peer, t
  printf "ratio                %.2f  (target >= 1.2)\n", lt / peer
  printf "1 process x 1 thread %.0f images/s\n", one
  printf "2 processes x 1      %.0f images/s\n", two
  printf "scaling              %.2f  (target >= 1.7)\n", two / one
}'

#!/usr/bin/env bash
# lt-extract against the torchvision DataLoader loop a user would run instead
# (bench/extract-peer.py): ResNet-50 at 224 px on JPEG images of ImageNet's
# typical size (500 x 375), the same weights, threads, workers and batch.
#   bench/extract.sh [BUILD_DIR]        (default build)
#   N=256 THREADS=$(nproc) BATCH=128 REPEAT=3 ARCH=resnet50 bench/extract.sh
# Prints both rates (images/s over the batches, best of REPEAT alternating
# runs), their ratio (target >= 1.5), lt-extract's peak RSS, and how far
# lt's features are from torchvision's. Needs python3-torchvision.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
N=${N:-256} THREADS=${THREADS:-$(nproc)} BATCH=${BATCH:-128} REPEAT=${REPEAT:-3} ARCH=${ARCH:-resnet50}
/usr/bin/python3 -c 'import torchvision, h5py, PIL' 2>/dev/null ||
  { echo "bench/extract.sh needs python3-torchvision and python3-h5py (apt-get install python3-torchvision)" >&2; exit 1; }
cmake --build "$build" -j2 --target lt-extract >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

/usr/bin/python3 bench/jpegs.py "$work" "$N" 10 "$ARCH"

cat "$work"/images/* >/dev/null  # page cache, for both
lt_rate=0 peer_rate=0 peak_kb=0
for _ in $(seq "$REPEAT"); do
  /usr/bin/time -f "%M" -o "$work/time" "$build/bin/lt-extract" --arch "$ARCH" --init "$work/$ARCH.h5" \
    --list "$work/list.txt" --root "$work" --threads "$THREADS" --workers "$THREADS" --batch-size "$BATCH" \
    -o "$work/lt.h5" 2>"$work/lt.log"
  rate=$(sed -n 's/.* s (\([0-9.]*\) images\/s).*/\1/p' "$work/lt.log")
  lt_rate=$(awk -v a="$lt_rate" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
  kb=$(cat "$work/time"); peak_kb=$(( kb > peak_kb ? kb : peak_kb ))
  rate=$(/usr/bin/python3 bench/extract-peer.py --arch "$ARCH" --weights "$work/$ARCH.h5" --list "$work/list.txt" \
    --root "$work" --threads "$THREADS" --workers "$THREADS" --batch-size "$BATCH" --out "$work/peer.npy" |
    sed -n 's/.*images_per_s \([0-9.]*\).*/\1/p')
  peer_rate=$(awk -v a="$peer_rate" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
done
/usr/bin/python3 - "$work" "$N" "$ARCH" "$THREADS" "$BATCH" "$lt_rate" "$peer_rate" "$peak_kb" <<'PY'
import sys, h5py, numpy as np
work, n, arch, threads, batch = sys.argv[1], *sys.argv[2:6]
lt_rate, peer_rate, peak_kb = map(float, sys.argv[6:])
ours, theirs = h5py.File(f"{work}/lt.h5", "r")["features"][:], np.load(f"{work}/peer.npy")
gap = np.abs(ours - theirs).max()
print(f"data               {n} JPEGs 500x375, {arch} at 224 px, {threads} threads and workers, batch {batch}")
print(f"lt-extract         {lt_rate:.2f} images/s  (peak RSS {peak_kb / 1024:.0f} MiB)")
print(f"torchvision peer   {peer_rate:.2f} images/s")
print(f"ratio              {lt_rate / peer_rate:.2f}  (target >= 1.5)")
print(f"features           max |lt - torchvision| = {gap:.3g} of max {np.abs(theirs).max():.3g}"
      + ("  (identical)" if gap == 0 else ""))
PY

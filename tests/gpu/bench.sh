#!/usr/bin/env bash
# GPU figures, on a machine with a GPU and a CUDA PyTorch (with torchvision
# and h5py), after lt was built against a CUDA LibTorch into BUILD
# (scripts/setup.sh --cuda, or tests/gpu/on-device.sh):
#   1. cuda against cpu for every tool with --device: tests/gpu/run.sh (the
#      unit checks, lt-attend, lt-eval; lt-train and lt-extract end to end
#      when DATA_FOLDER, a data set made by lt-data, is given), then
#      lt-extract on ResNet-50 at 224 px: cuda --no-tf32, cuda with TF32,
#      cuda --amp bf16 and --amp fp16 against cpu float32;
#   2. images/s at 224 px, ResNet-50 and ResNeXt-50 (32x4d), of lt-train and
#      lt-extract against the PyTorch peers on the same GPU and the same
#      JPEGs (bench/train-imagenet-peer.py, bench/extract-peer.py), in
#      float32 (TF32) and with --amp bf16 / fp16;
#   3. lt's batch loader alone on this machine's cores (bench_loader), which
#      must outrun the GPU.
# Targets: lt >= 1.0x the peer; lt with AMP >= 1.5x lt's float32; the
# loader >= lt-train's fastest rate. Exits 1 when cuda and cpu disagree;
# a missed target is reported (MISS), not an error. Exit 77 (skipped) when
# there is no GPU or BUILD is not a CUDA build.
# Time: about 20 s of inputs, 1 s per lt-train or peer epoch of 2048 images
# at ~2000 images/s, so 5 to 10 minutes for all of 2 (archs) x 3 (amps) x
# 4 (tools) runs; ARCHS=resnet50 AMPS="off bf16" about a third of that.
#   tests/gpu/bench.sh BUILD [DATA_FOLDER]
#   N=2048 EPOCHS=3 BATCH=256 ARCHS="resnet50 resnext50_32x4d" AMPS="off bf16 fp16" tests/gpu/bench.sh BUILD
# A rehearsal without a GPU, which runs parts 2 and 3 and the cpu side of 1
# on the CPU (it checks the script and the peers, not the figures):
#   DEVICE=cpu N=16 BATCH=8 EPOCHS=2 ARCHS=resnet50 AMPS="off bf16" tests/gpu/bench.sh BUILD
# On a CPU without AVX-512 the rehearsal leaves bf16 out (LibTorch's
# reference bf16 convolutions there are ~10x slower than float32).
# Each run is announced with the seconds since the start; RUN_LIMIT=S ends
# the script (exit 1) when one runs past S seconds, naming it.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: tests/gpu/bench.sh BUILD [DATA_FOLDER]}" && pwd)
data=${2:-}
DEVICE=${DEVICE:-cuda}
N=${N:-2048} EPOCHS=${EPOCHS:-3} BATCH=${BATCH:-256} CLASSES=${CLASSES:-100}
ARCHS=${ARCHS:-"resnet50 resnext50_32x4d"} AMPS=${AMPS:-"off bf16 fp16"}
cores=$(nproc)
WORKERS=${WORKERS:-$cores}
bin=$build/bin
cuda=$([ "$DEVICE" = cuda ] && echo 1 || echo 0)
# LibTorch convolves in bf16 on the CPU with oneDNN only given AVX-512 (bw,
# vl, dq); elsewhere about 10x slower than float32, too slow to measure.
cpu_bf16=1
for flag in avx512bw avx512vl avx512dq; do grep -qw "$flag" /proc/cpuinfo || cpu_bf16=0; done

if [ "$cuda" = 1 ] && { ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; }; then
  echo "skipped: no GPU visible (nvidia-smi -L)"; exit 77
fi
if ! "$bin/lt-extract" --help 2>/dev/null | grep -q -- --amp; then
  echo "skipped: $build has no lt-extract with --amp"; exit 77
fi
if ! python3 -c "import torch, torchvision, h5py, PIL; assert $cuda == 0 or torch.cuda.is_available()" 2>/dev/null; then
  echo "skipped: python3 lacks a ${DEVICE} PyTorch with torchvision, h5py and Pillow (the peers need them)"; exit 77
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
start_all=$(date +%s)
exec 3>&1  # the announcements, whatever a run's output is redirected to
# run WHAT COMMAND...: announces WHAT and runs COMMAND within RUN_LIMIT.
run() {
  local what=$1 status=0; shift
  echo "[$(( $(date +%s) - start_all )) s] $what" >&3
  if [ "${RUN_LIMIT:-0}" -gt 0 ]; then
    timeout "$RUN_LIMIT" "$@" || status=$?
    [ "$status" -ne 124 ] || { echo "bench.sh: $what ran past RUN_LIMIT=$RUN_LIMIT s" >&2; exit 1; }
  else
    "$@" || status=$?
  fi
  [ "$status" -eq 0 ] || { echo "bench.sh: $what failed (exit status $status)" >&2; exit 1; }
}
if [ "$cuda" = 1 ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")'
  echo "== 1. cuda against cpu"
  if [ -x "$build/gpu_tests" ]; then
    # shellcheck disable=SC2086  # no DATA_FOLDER is no argument
    "$src/tests/gpu/run.sh" "$build" $data
  else
    echo "($build has no gpu_tests: tests/gpu/run.sh needs the tests/gpu build; skipping it)"
  fi
else
  echo "rehearsal on the cpu: the figures below say nothing of a GPU"
  if [ "$cpu_bf16" = 0 ] && [ "$AMPS" != off ]; then
    echo "this CPU lacks AVX-512, where LibTorch's bf16 is about 10x slower than float32: AMPS=off only"
    AMPS=off
  fi
fi

# N JPEGs of ImageNet's typical size in CLASSES classes, and torchvision's
# initial weights of each architecture in lt's --init layout.
# shellcheck disable=SC2086  # ARCHS holds several words
run "$N JPEGs and the initial weights" python3 "$src/bench/jpegs.py" "$work" "$N" "$CLASSES" $ARCHS
head -n 256 "$work/list.txt" >"$work/small.txt"
cat "$work"/images/* >/dev/null  # the page cache, for everyone

# lt-extract of 256 images on cpu float32 against cuda in each precision.
extract=(--arch resnet50 --init "$work/resnet50.h5" --root "$work" --batch-size 64 -q)
run "lt-extract resnet50 cpu float32" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cpu -o "$work/cpu.h5"
compared=""
[ "$cpu_bf16" = 0 ] || compared="cpu-bf16"
if [ "$cuda" = 1 ]; then
  run "lt-extract resnet50 cuda fp32" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cuda --no-tf32 --deterministic -o "$work/fp32.h5"
  run "lt-extract resnet50 cuda tf32" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cuda -o "$work/tf32.h5"
  run "lt-extract resnet50 cuda bf16" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cuda --amp bf16 -o "$work/bf16.h5"
  run "lt-extract resnet50 cuda fp16" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cuda --amp fp16 -o "$work/fp16.h5"
  compared="fp32 tf32 bf16 fp16 $compared"
fi
if [ "$cpu_bf16" = 1 ]; then
  run "lt-extract resnet50 cpu bf16" "$bin/lt-extract" "${extract[@]}" --list "$work/small.txt" --device cpu --amp bf16 -o "$work/cpu-bf16.h5"
fi
# shellcheck disable=SC2086  # compared holds several words
python3 - "$work" $compared <<'PY'
import sys, h5py, numpy as np
work = sys.argv[1]
cpu = h5py.File(f"{work}/cpu.h5")["features"][:]
bad = []
bounds = {"fp32": 1e-4, "tf32": 1e-2, "bf16": 5e-2, "fp16": 1e-2, "cpu-bf16": 5e-2}
for name in sys.argv[2:]:
    bound = bounds[name]
    other = h5py.File(f"{work}/{name}.h5")["features"]
    assert other.dtype == np.float32, (name, other.dtype)
    relative = np.abs(other[:] - cpu).max() / np.abs(cpu).max()
    verdict = "ok" if relative < bound else "FAIL"
    print(f"lt-extract resnet50 {name:9s} vs cpu float32: max relative difference {relative:.2e} (bound {bound:g}) {verdict}")
    if verdict != "ok":
        bad.append(name)
sys.exit(1 if bad else 0)
PY

echo "== 2. images/s at 224 px, batch $BATCH, $N JPEGs, $WORKERS decoding workers, $EPOCHS epochs (rate of epochs 2..)"
lt_train_rate() { python3 -c '
import json, sys
rates = [json.loads(line)["train_images_per_s"] for line in open(sys.argv[1])][1:]
print(f"{sum(rates) / len(rates):.1f}")' "$1"; }
peer_train_rate() { awk 'NR > 1 { s += $NF; n++ } END { printf "%.1f", s / n }' "$1"; }
train=(--train-list "$work/list.txt" --root "$work" --head linear --sampler instance --loss ce --preset imagenet
       --batch-size "$BATCH" --epochs "$EPOCHS" --lr 0.02 --workers "$WORKERS" --device "$DEVICE" -q)
amp_args() { [ "$1" = off ] || echo "--amp $1"; }
rows=()
for arch in $ARCHS; do
  for amp in $AMPS; do
    # shellcheck disable=SC2046  # amp_args is zero or two words
    run "lt-train $arch $amp" "$bin/lt-train" "${train[@]}" --arch "$arch" $(amp_args "$amp") -o "$work/m.h5" --log "$work/lt.jsonl"
    lt=$(lt_train_rate "$work/lt.jsonl")
    run "peer train $arch $amp" python3 "$src/bench/train-imagenet-peer.py" --list "$work/list.txt" --root "$work" --arch "$arch" --amp "$amp" \
      --device "$DEVICE" --threads "$cores" \
      --workers "$WORKERS" --batch-size "$BATCH" --epochs "$EPOCHS" --lr 0.02 >"$work/peer.out"
    peer=$(peer_train_rate "$work/peer.out")
    rows+=("lt-train $arch $amp $lt $peer")
    # shellcheck disable=SC2046
    run "lt-extract $arch $amp" "$bin/lt-extract" --arch "$arch" --init "$work/$arch.h5" --list "$work/list.txt" --root "$work" \
      --batch-size "$BATCH" --workers "$WORKERS" --device "$DEVICE" $(amp_args "$amp") -o "$work/f.h5" 2>"$work/lt.log"
    lt=$(sed -n 's/.* s (\([0-9.]*\) images\/s).*/\1/p' "$work/lt.log")
    run "peer extract $arch $amp" python3 "$src/bench/extract-peer.py" --arch "$arch" --weights "$work/$arch.h5" \
      --list "$work/list.txt" --root "$work" --workers "$WORKERS" --batch-size "$BATCH" --device "$DEVICE" \
      --amp "$amp" --channels-last --threads "$cores" >"$work/peer.out"
    peer=$(sed -n 's/.*images_per_s \([0-9.]*\).*/\1/p' "$work/peer.out")
    rows+=("lt-extract $arch $amp $lt $peer")
  done
done

echo "== 3. the batch loader on $cores cores"
cmake --build "$build" --target bench_loader >/dev/null 2>&1 || true
loader_train=0 loader_eval=0
if [ -x "$build/bench/bench_loader" ]; then
  run "loader train" "$build/bench/bench_loader" "$work/list.txt" "$work" "$WORKERS" train "$BATCH" >"$work/loader-train"
  run "loader eval" "$build/bench/bench_loader" "$work/list.txt" "$work" "$WORKERS" eval "$BATCH" >"$work/loader-eval"
  cat "$work/loader-train" "$work/loader-eval"
  loader_train=$(sed -n 's/.*: \([0-9]*\) images\/s.*/\1/p' "$work/loader-train")
  loader_eval=$(sed -n 's/.*: \([0-9]*\) images\/s.*/\1/p' "$work/loader-eval")
fi

# A figure that could not be read from a tool's output is an error, not a 0.
for row in "${rows[@]}" "loader train - $loader_train $loader_train" "loader eval - $loader_eval $loader_eval"; do
  read -r tool arch amp lt peer <<<"$row"
  awk -v a="$lt" -v p="$peer" 'BEGIN { exit !(a + 0 > 0 && p + 0 > 0) }' ||
    { echo "bench.sh: no figure read for $tool $arch $amp (lt '$lt', peer '$peer')" >&2; exit 1; }
done
printf '%s\n' "${rows[@]}" | awk -v lt_loader="$loader_train" -v eval_loader="$loader_eval" '
  { tool = $1; arch = $2; amp = $3; lt[tool, arch, amp] = $4; peer[tool, arch, amp] = $5; order[++n] = tool SUBSEP arch SUBSEP amp
    if (tool == "lt-train" && $4 > fastest_train) fastest_train = $4
    if (tool == "lt-extract" && $4 > fastest_extract) fastest_extract = $4 }
  END {
    printf "%-10s %-16s %-5s %10s %10s %7s %6s %9s %6s\n", "tool", "arch", "amp", "lt img/s", "peer img/s", "lt/peer", "target", "amp/fp32", "target"
    for (i = 1; i <= n; i++) {
      split(order[i], k, SUBSEP); a = lt[k[1], k[2], k[3]]; p = peer[k[1], k[2], k[3]]
      ratio = (p > 0) ? a / p : 0
      speedup = "-"; verdict2 = "-"
      if (k[3] != "off" && lt[k[1], k[2], "off"] > 0) {
        s = a / lt[k[1], k[2], "off"]; speedup = sprintf("%.2f", s); verdict2 = (s >= 1.5) ? "ok" : "MISS" }
      printf "%-10s %-16s %-5s %10.1f %10.1f %7.2f %6s %9s %6s\n", k[1], k[2], k[3], a, p, ratio, (ratio >= 1.0) ? "ok" : "MISS", speedup, verdict2
    }
    printf "loader train transform %.0f images/s against lt-train at most %.0f: %s\n", lt_loader, fastest_train, (lt_loader >= fastest_train) ? "ok" : "MISS"
    printf "loader eval transform  %.0f images/s against lt-extract at most %.0f: %s\n", eval_loader, fastest_extract, (eval_loader >= fastest_extract) ? "ok" : "MISS"
  }'
echo "gpu bench: $(( $(date +%s) - start_all )) s"

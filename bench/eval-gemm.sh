#!/usr/bin/env bash
# lt-eval against the best float32 GEMM measurable on this machine. Scoring
# N test features against a C-class cosine classifier is one [N, D] x [D, C]
# product plus normalisation, argmax and counting, so lt-eval's effective
# GFLOP/s (2 N C D / wall, the whole process: start-up, reading, scoring) is
# compared with NumPy's float32 matmul of the same shapes (warm, output
# preallocated, features in memory, best of 3 per process), and lt-eval's wall
# time with the peer's (`peer.py eval`). Target: lt >= 85% of the GEMM's GFLOP/s.
#   bench/eval-gemm.sh          N=50000 C=1000 D=2048 (SMALL=1: N=4000 C=200 D=256)
# Runs alternate (lt-eval, peer eval, GEMM) REPEAT times; the best of each is kept.
source "$(dirname "$0")/lib.sh"
if [[ ${SMALL:-0} == 1 ]]; then : "${N:=4000}" "${C:=200}" "${D:=256}"; fi
N=${N:-50000} C=${C:-1000} D=${D:-2048}

info "generating N=$N C=$C D=$D in $work"
generate --classes "$C" --dim "$D" --train 0 --test "$N"
cat "$work"/*.h5 >/dev/null  # page cache, as right after extraction
cat >"$work/gemm.py" <<'PY'
import sys, time, h5py, numpy as np
with h5py.File("test.h5") as f: x = np.asarray(f["features"], np.float32)
with h5py.File("clf.h5") as f: w = np.asarray(f["weights"], np.float32)
out = np.empty((x.shape[0], w.shape[0]), np.float32)
np.matmul(x[:256], w.T, out=out[:256])  # warm up BLAS
best = 1e99
for _ in range(3):
    t = time.perf_counter(); np.matmul(x, w.T, out=out); best = min(best, time.perf_counter() - t)
print(f"{best:.6f}")
PY

pair "lt-eval vs peer.py eval" "" \
  "\$LT/lt-eval \$T test.h5 clf.h5 --format tsv > lt.tsv" \
  "\$PEER eval test.h5 clf.h5 > peer.tsv"
gemm_s=0 gemm_kb=0
for ((r = 0; r < REPEAT; r++)); do
  measure 0 "$PY gemm.py"
  ((RC_ == 0)) || { cat "$work/.err" >&2; exit 1; }
  s=$(cat "$work/.out")
  if [[ $gemm_s == 0 ]] || $PY -c "import sys; sys.exit(not $s < $gemm_s)"; then gemm_s=$s gemm_kb=$KB_; fi
done
lt_s=$(awk -F'\t' 'NR == 1 { print $3 }' "$table")
lt_kb=$(awk -F'\t' 'NR == 1 { print $5 }' "$table")
row "lt-eval vs numpy GEMM only" "ratio>=0.85" "$lt_s" "$gemm_s" "$lt_kb" "$gemm_kb"
print_table "eval: N=$N C=$C D=$D, threads=$THREADS, best of $REPEAT
(ratio of the GEMM row = lt's effective GFLOP/s / GEMM GFLOP/s)"
$PY - "$N" "$C" "$D" "$lt_s" "$gemm_s" <<'PY'
import sys
n, c, d = map(int, sys.argv[1:4]); lt, gemm = map(float, sys.argv[4:])
flop = 2 * n * c * d
print(f"  work     2*N*C*D = {flop / 1e9:.1f} GFLOP")
print(f"  lt-eval  {flop / lt / 1e9:7.1f} GFLOP/s effective ({lt:.3f} s, whole process)")
print(f"  GEMM     {flop / gemm / 1e9:7.1f} GFLOP/s (numpy float32 matmul, {gemm:.3f} s)")
print(f"  lt / GEMM = {gemm / lt:.2f} (target >= 0.85)")
PY
agree "accuracies" tsv lt.tsv peer.tsv 0
exit $((DIFFS > 0))

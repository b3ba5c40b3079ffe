# bench/lib.sh: shared helpers of the bench drivers (source it; bash only).
#
# Environment: BUILD (lt's build folder, default build), THREADS (default 2:
# OMP_NUM_THREADS / OPENBLAS_NUM_THREADS for both sides, lt's --threads),
# REPEAT (runs of each measurement, default 3, 1 with SMALL=1; best wall
# time is kept),
# LT_VMEM_GB / PEER_VMEM_GB (address-space cap of each measured command,
# default 12; 0 = none), so an out-of-memory run fails instead of swapping.
#
#   pair STEP TARGET 'lt command' 'peer command'
#       runs both REPEAT times, alternating, each under /usr/bin/time; keeps the
#       best wall time and the largest peak RSS; a failing side is not rerun and
#       is reported as FAIL(rc) with the last line of its stderr.
#   row STEP TARGET LT_S PEER_S LT_KB PEER_KB [LT_RC]
#       adds a row computed elsewhere (sums, in-process step timings).
#   print_table TITLE
#       step | lt s | peer s | ratio (peer/lt) | lt peak MiB | peer peak MiB | target
#       TARGET is a condition on the row: ratio>=X, lt_ms<=X, lt_mib<X, or
#       several joined by commas; the column shows it with ok or MISS.
# Commands are bash strings run in $work (redirections allowed); $LT is
# lt's bin folder, $PEER the peer's command line, $T lt's --threads option.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
LT=$BUILD/bin
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-$([[ ${SMALL:-0} == 1 ]] && echo 1 || echo 3)}
LT_VMEM_GB=${LT_VMEM_GB:-12}
PEER_VMEM_GB=${PEER_VMEM_GB:-12}
PY=/usr/bin/python3
PEER="$PY $BENCH/peer.py"
GEN="$PY $BENCH/gen.py"
COMPARE="$PY $BENCH/compare.py"
T="--threads $THREADS"
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive
export LT LT_VMEM_GB PEER_VMEM_GB PEER T
[[ -x $LT/lt-eval ]] || { echo "bench: no lt build in $BUILD (set BUILD=dir)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lt-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
table=$work/.table
: >"$table"

# measure CAP_GB 'command' -> sets US_ (wall, microseconds), KB_ (peak RSS)
# and RC_; stdout/stderr go to $work/.out and $work/.err unless redirected.
measure() {
  local cap=$1 cmd=$2 start
  start=${EPOCHREALTIME/./}
  RC_=0
  (cd "$work" && { [[ $cap == 0 ]] || ulimit -v $((cap * 1024 * 1024)); } &&
    exec /usr/bin/time -f "%M" -o "$work/.rss" bash -c "$cmd") >"$work/.out" 2>"$work/.err" || RC_=$?
  US_=$((${EPOCHREALTIME/./} - start))
  KB_=$(tail -n 1 "$work/.rss" 2>/dev/null | grep -Eo '^[0-9]+$' || echo 0)
}

seconds() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:-0/0}" "${8:-}" >>"$table"; }

pair() {
  local step=$1 target=$2 lt_cmd=$3 peer_cmd=$4 r
  local lt_us=0 peer_us=0 lt_kb=0 peer_kb=0 lt_rc=0 peer_rc=0 why=""
  for ((r = 0; r < REPEAT; r++)); do
    if ((lt_rc == 0)); then
      measure "$LT_VMEM_GB" "$lt_cmd"
      cp "$work/.out" "$work/.lt.out"
      if ((RC_ != 0)); then lt_rc=$RC_ why="lt: $(tail -n 1 "$work/.err")"
      elif ((lt_us == 0 || US_ < lt_us)); then lt_us=$US_; fi
      ((KB_ > lt_kb)) && lt_kb=$KB_
    fi
    if ((peer_rc == 0)); then
      measure "$PEER_VMEM_GB" "$peer_cmd"
      cp "$work/.out" "$work/.peer.out"
      cp "$work/.err" "$work/.peer.err"
      if ((RC_ != 0)); then peer_rc=$RC_ why="$why peer: $(tail -n 1 "$work/.err")"
      elif ((peer_us == 0 || US_ < peer_us)); then peer_us=$US_; fi
      ((KB_ > peer_kb)) && peer_kb=$KB_
    fi
  done
  local lt_s peer_s
  ((lt_rc == 0)) && lt_s=$(seconds $lt_us) || lt_s=FAIL
  ((peer_rc == 0)) && peer_s=$(seconds $peer_us) || peer_s=FAIL
  row "$step" "$target" "$lt_s" "$peer_s" "$lt_kb" "$peer_kb" "$lt_rc/$peer_rc" "${why# }"
  info "$step: lt $lt_s s, peer $peer_s s${why:+ ($why)}"
}

print_table() {
  $PY - "$1" "$table" <<'PY'
import sys
title, path = sys.argv[1], sys.argv[2]
rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
def num(s):
    try: return float(s)
    except ValueError: return None
def secs(s, rc):
    v = num(s)
    return f"{v:.4g}" if v is not None else (f"FAIL({rc})" if rc not in ("", "0") else "FAIL") if s == "FAIL" else s
def mib(kb): return f"{int(kb) / 1024:.0f}" if num(kb) else "-"
out = [("step", "lt s", "peer s", "ratio (peer/lt)", "lt peak MiB", "peer peak MiB", "target")]
notes = []
for step, target, lt_s, peer_s, lt_kb, peer_kb, rc, why in (r + [""] * (8 - len(r)) for r in rows):
    lt_rc, _, peer_rc = (rc or "0/0").partition("/")
    a, b = num(lt_s), num(peer_s)
    ratio = b / a if a and b is not None else None
    verdict = []
    for cond in filter(None, target.split(",")):
        for op in (">=", "<=", "<", ">"):
            if op in cond:
                name, limit = cond.split(op); limit = float(limit); break
        value = {"ratio": ratio, "lt_ms": a * 1e3 if a is not None else None,
                 "lt_mib": int(lt_kb) / 1024 if a is not None and num(lt_kb) else None}.get(name)
        good = value is not None and eval(f"{value} {op} {limit}")
        verdict.append(f"{cond} {'ok' if good else 'MISS'}")
    out.append((step, secs(lt_s, lt_rc), secs(peer_s, peer_rc), f"{ratio:.2f}" if ratio is not None else "-",
                mib(lt_kb), mib(peer_kb), "; ".join(verdict) or "-"))
    if why: notes.append(f"{step}: {why.strip()}")
width = [max(len(r[i]) for r in out) for i in range(7)]
print(f"\n{title}")
for n, r in enumerate(out):
    print(" | ".join(c.ljust(w) if i in (0, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(r, width))).rstrip())
    if n == 0: print("-+-".join("-" * w for w in width))
for n in notes: print("  " + n)
PY
  echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
}

# sum_steps COL STEP... : sum of a column (3 = lt s, 4 = peer s) over rows; FAIL if any failed.
sum_steps() {
  local col=$1; shift
  $PY - "$table" "$col" "$@" <<'PY'
import sys
path, col, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
vals = [r.split("\t")[col - 1] for r in open(path) if r.split("\t")[0] in steps]
print("FAIL" if any(v == "FAIL" for v in vals) else f"{sum(map(float, vals)):.6f}")
PY
}

# max_col COL STEP... : largest peak KB over rows.
max_col() {
  local col=$1; shift
  $PY - "$table" "$col" "$@" <<'PY'
import sys
path, col, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(max([int(r.split("\t")[col - 1]) for r in open(path) if r.split("\t")[0] in steps] + [0]))
PY
}

# agree LABEL KIND LT_FILE PEER_FILE [TOL]: one compare.py line; differences counted in DIFFS.
DIFFS=0
agree() {
  local label="$1: lt vs peer"
  shift
  if [[ ! -s $work/$2 || ! -s $work/$3 ]]; then echo "skip $label (missing output)"; return; fi
  (cd "$work" && $COMPARE "$1" "$2" "$3" ${4:+--tol "$4"} --label "$label") || DIFFS=$((DIFFS + 1))
}

info() { echo "bench: $*" >&2; }

# generate GEN_ARGS...: gen.py's inputs into $work. With BENCH_DATA=DIR they
# are made once, in DIR/<the arguments>, and linked into $work afterwards
# (the C = 100,000 and iNaturalist inputs take minutes to make).
generate() {
  if [[ -z ${BENCH_DATA:-} ]]; then
    $GEN "$work" "$@"
    return
  fi
  local key
  key=$(printf '%s_' "$@" | tr -c 'A-Za-z0-9_.\n-' '_')
  local dir=$BENCH_DATA/${key//--/}
  if [[ ! -f $dir/.complete ]]; then
    mkdir -p "$dir"
    $GEN "$dir" "$@"
    touch "$dir/.complete"
  else
    info "reusing the inputs in $dir"
  fi
  ln -sf "$dir"/*.h5 "$work"/
}

#!/usr/bin/env bash
# Start-up time of every lt tool: `lt-X --version`, best of REPEAT (default
# 20), against the peer's start-up (`python3 peer.py --version`: the
# interpreter, NumPy and h5py imported). Start-up is paid once per pipeline
# step, so it decides how fast a shell loop over many small steps (a k sweep
# of 21 lt-attend calls) can be. Target: <= 20 ms for each tool of the
# training-free core (lt-protos, lt-attend, lt-ensemble, lt-eval, lt-compat,
# and the small ones beside them: lt-adjust, lt-info, lt-project,
# lt-wordnet); the others are shown without one: lt-train, lt-extract and
# lt-retrain load LibTorch, lt-data OpenCV's image codecs.
#   bench/startup.sh            (BUILD=dir, REPEAT=N, THREADS=N as in bench/README.md)
# Wall times are taken around a direct exec (no /usr/bin/time in the timed
# run); the peak RSS comes from one extra run under /usr/bin/time.
REPEAT_SET=${REPEAT:-}
source "$(dirname "$0")/lib.sh"
[[ ${SMALL:-0} == 1 ]] && REPEAT=${REPEAT_SET:-5} || REPEAT=${REPEAT_SET:-20}

best_us() {  # best wall time in microseconds of REPEAT runs of the command; FAIL if one fails
  local best=0 r start us
  for ((r = 0; r < REPEAT; r++)); do
    start=${EPOCHREALTIME/./}
    "$@" >/dev/null 2>&1 || { echo FAIL; return; }
    us=$((${EPOCHREALTIME/./} - start))
    ((best == 0 || us < best)) && best=$us
  done
  echo "$best"
}

peak_kb() { /usr/bin/time -f "%M" -o "$work/.rss" "$@" >/dev/null 2>&1; tail -n 1 "$work/.rss"; }

peer_us=$(best_us $PEER --version)
peer_kb=$(peak_kb $PEER --version)
for tool in "$LT"/lt-*; do
  name=$(basename "$tool")
  [[ -x $tool ]] || continue
  lt_us=$(best_us "$tool" --version)
  [[ $lt_us == FAIL ]] && lt_s=FAIL || lt_s=$(seconds "$lt_us")
  case $name in
    lt-train | lt-extract | lt-retrain | lt-data) target="" ;;
    *) target="lt_ms<=20" ;;
  esac
  row "$name --version" "$target" "$lt_s" "$(seconds "$peer_us")" "$(peak_kb "$tool" --version)" "$peer_kb"
done
print_table "start-up, best of $REPEAT (peer: python3 peer.py --version, best of $REPEAT)"

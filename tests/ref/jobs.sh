# Sourced by tests/pipeline/reference.sh and tests/cli/core-bad-input.sh:
# runs tool invocations as background jobs, LT_TEST_JOBS (default 2) at a
# time, because each start of a LibTorch-linked binary costs ~0.5 s of CPU.
# Needs WORK (tests/ref/env.sh).  Every failure is one file $WORK/fail/<n>;
# `report` counts them at the end.
JOBS=${LT_TEST_JOBS:-2}
mkdir -p "$WORK/fail" "$WORK/err"
NJOB=0

# fail MESSAGE: record one failure (paths shown relative to $WORK)
fail() {
  local m="$*"
  m=${m//$WORK\//}
  printf 'FAIL: %s\n' "${m:0:3000}" >"$WORK/fail/${BASHPID}.$RANDOM$RANDOM"
}

# job COMMAND...: run COMMAND (a shell function or program) in the background,
# with at most $JOBS at a time; its stdout/stdin redirections are the caller's.
job() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n 2>/dev/null || true; done
  NJOB=$((NJOB + 1))
  "$@" &
}

# barrier: wait for every job (a stage whose outputs the next stage reads)
barrier() { wait; }

# report NAME WHAT: print the failures and exit 1, or print the summary
report() {
  wait
  local n
  n=$(find "$WORK/fail" -type f | wc -l)
  if [ "$n" -ne 0 ]; then
    cat "$WORK"/fail/* | sort
    echo "$1: $n failure(s) in $NJOB tool runs (LT_KEEP=1 keeps the work folder)"
    exit 1
  fi
  echo "$1: $2 ($NJOB tool runs)"
  exit 0
}

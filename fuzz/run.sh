#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan+UBSan) and runs some of them.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default: 600 s each, every target
#
# Targets: fuzz_list fuzz_idx fuzz_h5_features fuzz_h5_classifier
#          fuzz_h5_prototypes fuzz_h5_ensemble
# Each run starts from the committed seeds (fuzz/corpus/TARGET) plus what
# earlier runs found (build-fuzz/corpus/TARGET), keeps going after a crash
# (-fork=1 -ignore_crashes=1), and leaves crashing inputs in
# build-fuzz/findings/TARGET/. fuzz/triage.sh tells which are lt's own.
# Needs clang and libclang-rt-14-dev (scripts/setup.sh --fuzz installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${LT_FUZZ_BUILD:-$root/build-fuzz}
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_list fuzz_idx fuzz_h5_features fuzz_h5_classifier fuzz_h5_prototypes fuzz_h5_ensemble)

[ -f "$build/build.ninja" ] || CC=clang CXX=clang++ cmake -S "$here" -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j2 >/dev/null

export LSAN_OPTIONS="suppressions=$root/tests/sanitize.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export TMPDIR=${TMPDIR:-/tmp}
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target findings=$build/findings/$target
  mkdir -p "$corpus" "$findings"
  echo "== $target: $seconds s"
  # -rss_limit_mb: the readers must refuse sizes the file cannot back, so a
  # run needing more than 2 GB is a finding too.
  (cd "$findings" && "$build/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      "$corpus" "$here/corpus/$target" >"$findings/log.txt" 2>&1) || true
  grep -E "^#[0-9]+: cov" "$findings/log.txt" | tail -1 || true
  echo "   findings: $(ls "$findings" | grep -cE '^(crash|leak|timeout|oom)-' || true) (in $findings)"
done

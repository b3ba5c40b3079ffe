#!/usr/bin/env bash
# Reruns every finding of fuzz/run.sh and sorts it by the first stack frame
# that is not a sanitizer interceptor: in lt's code, or in a library (HDF5,
# zlib) that lt cannot fix.
#
#   fuzz/triage.sh [TARGET...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${LT_FUZZ_BUILD:-$(dirname "$here")/build-fuzz}
export LSAN_OPTIONS="suppressions=$(dirname "$here")/tests/sanitize.supp"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls "$build/findings" 2>/dev/null))
for target in "${targets[@]}"; do
  for input in "$build/findings/$target"/{crash,leak,timeout,oom}-*; do
    [ -e "$input" ] || continue
    report=$("$build/$target" -timeout=10 -rss_limit_mb=2048 "$input" 2>&1)
    kind=$(grep -oE "(ERROR|WARNING): [A-Za-z]+: [a-z-]+|ERROR: libFuzzer: [a-z-]+" <<<"$report" | head -1)
    frame=$(grep -E "^ +#[0-9]+ " <<<"$report" | grep -vE "__interceptor|__asan|__sanitizer|__ubsan|in (malloc|calloc|realloc|free|operator new|abort|raise)|libc\.so|fuzzer::" | head -1)
    where=other
    grep -q "libhdf5" <<<"$frame" && where=libhdf5
    grep -q "libz\.so" <<<"$frame" && where=zlib
    grep -q "/lib/lt/\|/fuzz/" <<<"$frame" && where=lt
    [ -n "$kind" ] || kind="no longer reproduces"
    echo "$target $(basename "$input") [$where] $kind :: $(sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //; s/ \(BuildId.*//' <<<"$frame" | cut -c1-150)"
  done
done

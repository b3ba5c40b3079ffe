# Helpers for the CLI tests: each tests/cli/<tool>.sh is one ctest, run with
# LT_BIN (the binaries), LT_SRC (the source tree) and PATH including LT_BIN.
# Run directly (bash tests/cli/lt-eval.sh), they find the source tree from
# their own path and the binaries in build/bin (or LT_BIN), and fail when
# there are none: a test never passes without running its checks.
#
#   source "$(dirname "$0")/../lib/cli.sh"   # also: set -euo pipefail, $WORK
#
#   $WORK                  a scratch folder, removed when the script exits
#   section TITLE          prints "== TITLE" (where a failure happened)
#   fail MESSAGE           prints "FAIL: MESSAGE" and exits 1
#
#   expect_ok COMMAND...   runs COMMAND; it must exit 0 with an empty stderr
#                          (the contract of a quiet or -q run)
#   expect_logged COMMAND...
#                          exit 0; stderr may hold log lines, but none with
#                          ": error:"
#   expect_fail STATUS PATTERN [PATH...] -- COMMAND...
#                          COMMAND must exit with STATUS and print exactly one
#                          line on stderr, which starts "<tool>: error: "
#                          (<tool> = name of COMMAND's program) and matches the
#                          extended regex PATTERN; every PATH must not exist
#                          afterwards, nor any temporary .NAME.tmp.* beside it
#
#   After each expect_*, the command's output is in "$LT_STDOUT" and
#   "$LT_STDERR" (files) for further checks.
#
#   expect_equal ACTUAL EXPECTED WHAT    compares two strings
#   expect_lines FILE N                  FILE has exactly N lines
#   expect_grep PATTERN FILE             FILE has a line matching PATTERN (grep -E)

set -euo pipefail

: "${LT_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${LT_BUILD:=$LT_SRC/build}"
: "${LT_BIN:=$LT_BUILD/bin}"
export LT_SRC LT_BUILD LT_BIN PATH="$LT_BIN:$PATH"
if ! compgen -G "$LT_BIN/lt-*" >/dev/null; then
    echo "FAIL: no lt binaries in $LT_BIN (build first, or set LT_BIN)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-cli-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LT_STDOUT="$WORK/.stdout"
LT_STDERR="$WORK/.stderr"

section() { echo "== $*"; }

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Runs "$@" with output captured; sets LT_STATUS. Never aborts the script.
_lt_run() {
    LT_STATUS=0
    "$@" >"$LT_STDOUT" 2>"$LT_STDERR" || LT_STATUS=$?
}

_lt_show() {
    echo "  command: $*" >&2
    echo "  exit status: $LT_STATUS" >&2
    echo "  stderr:" >&2
    sed 's/^/    /' "$LT_STDERR" >&2
}

expect_ok() {
    _lt_run "$@"
    if [[ $LT_STATUS -ne 0 || -s $LT_STDERR ]]; then
        _lt_show "$@"
        fail "expected exit 0 and an empty stderr"
    fi
}

expect_logged() {
    _lt_run "$@"
    if [[ $LT_STATUS -ne 0 ]] || grep -q ': error:' "$LT_STDERR"; then
        _lt_show "$@"
        fail "expected exit 0 without an error line"
    fi
}

expect_fail() {
    local status=$1 pattern=$2
    shift 2
    local paths=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        paths+=("$1")
        shift
    done
    [[ $# -gt 0 ]] || fail "expect_fail: missing -- before the command"
    shift
    local tool
    tool=$(basename "$1")
    _lt_run "$@"
    local lines
    lines=$(wc -l <"$LT_STDERR")
    if [[ $LT_STATUS -gt 128 ]]; then
        _lt_show "$@"
        fail "ended by signal $((LT_STATUS - 128)) (a crash, never an acceptable way to refuse input)"
    fi
    if [[ $LT_STATUS -ne $status ]]; then
        _lt_show "$@"
        fail "expected exit status $status"
    fi
    if [[ $lines -ne 1 ]] || ! grep -q "^$tool: error: " "$LT_STDERR"; then
        _lt_show "$@"
        fail "expected exactly one stderr line starting '$tool: error: '"
    fi
    if ! grep -Eq -- "$pattern" "$LT_STDERR"; then
        _lt_show "$@"
        fail "the error does not match /$pattern/"
    fi
    local path leftover
    for path in ${paths[@]+"${paths[@]}"}; do
        [[ ! -e $path ]] || fail "'$path' exists after a failed run of: $*"
        for leftover in "$(dirname "$path")/.$(basename "$path")".tmp.*; do
            [[ ! -e $leftover ]] || fail "temporary '$leftover' left behind by: $*"
        done
    done
}

expect_equal() {
    [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

expect_lines() {
    local count
    count=$(wc -l <"$1")
    [[ $count -eq $2 ]] || fail "'$1' has $count lines, expected $2"
}

expect_grep() {
    grep -Eq -- "$1" "$2" || fail "no line of '$2' matches /$1/"
}

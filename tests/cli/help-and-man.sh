#!/usr/bin/env bash
# Every tool: --help exits 0 on stdout with examples (one a pipe) and See also;
# --version names the commit; either written to a full disk is exit 1; an
# unknown option is exit 2 with one error line; the man page and --help list
# the same long options (they must not drift).
set -u
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${LT_BIN:=$LT_SRC/build/bin}"
fail=0
problem() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

long_options() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

tools=0
for binary in "$LT_BIN"/lt-*; do
  tool=$(basename "$binary")
  tools=$((tools + 1))
  "$binary" --help >"$tmp/help" 2>"$tmp/err"; status=$?
  [ $status -eq 0 ] || problem "$tool --help exits $status"
  [ -s "$tmp/err" ] && problem "$tool --help writes to stderr"
  grep -q '^Examples:' "$tmp/help" || problem "$tool --help has no Examples"
  grep -q '^  \$ .*| *lt-' "$tmp/help" || problem "$tool --help has no pipe example"
  tail -n 2 "$tmp/help" | grep -q '^See also: ' || problem "$tool --help does not end with See also"
  "$binary" --version >"$tmp/version" 2>&1 || problem "$tool --version fails"
  grep -q "^$tool [0-9.]* (commit " "$tmp/version" || problem "$tool --version: $(cat "$tmp/version")"
  # help and version text is output too: a write that fails is exit 1, one line
  if [ -w /dev/full ]; then
    for flag in --help --version; do
      "$binary" $flag >/dev/full 2>"$tmp/err"; status=$?
      [ $status -eq 1 ] || problem "$tool $flag >/dev/full exits $status, expected 1"
      [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^$tool: error: cannot write to standard output: No space left on device$" \
        "$tmp/err" || problem "$tool $flag >/dev/full: $(cat "$tmp/err")"
    done
  fi

  "$binary" --no-such-option >"$tmp/out" 2>"$tmp/err"; status=$?
  [ $status -eq 2 ] || problem "$tool --no-such-option exits $status, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || problem "$tool --no-such-option prints $(wc -l <"$tmp/err") stderr lines"
  grep -q "^$tool: error: " "$tmp/err" || problem "$tool error line: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && problem "$tool --no-such-option writes to stdout"

  page="$LT_SRC/man/$tool.1"
  if [ ! -f "$page" ]; then problem "$tool has no man page man/$tool.1"; continue; fi
  man -l "$page" >/dev/null 2>"$tmp/man-err" || problem "man -l $page fails"
  [ -s "$tmp/man-err" ] && problem "man -l $page warns: $(head -1 "$tmp/man-err")"
  # Options of the help (subcommands' too) against the options the page names.
  { cat "$tmp/help"
    for sub in $(sed -n '/^Subcommands:/,/^$/p' "$tmp/help" | awk 'NR>1 && NF {print $1}'); do
      "$binary" "$sub" --help 2>/dev/null
    done; } | sed '/^Examples:/,/^Options:/{/^Options:/!d}' | long_options >"$tmp/help-options"
  # Only the OPTIONS section of the page: examples may show other tools' options.
  sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page" | sed 's/\\-/-/g; s/\\f[BIRP]//g' | long_options >"$tmp/man-options"
  missing=$(comm -23 "$tmp/help-options" "$tmp/man-options" | tr '\n' ' ')
  extra=$(comm -13 "$tmp/help-options" "$tmp/man-options" | tr '\n' ' ')
  [ -z "$missing" ] || problem "man/$tool.1 lacks options of --help: $missing"
  [ -z "$extra" ] || problem "man/$tool.1 names options --help does not have: $extra"
done
[ $tools -ge 5 ] || problem "only $tools tools found in $LT_BIN"
for page in "$LT_SRC"/man/*.5; do man -l "$page" >/dev/null 2>&1 || problem "man -l $page fails"; done
[ $fail -eq 0 ] && echo "help-and-man: $tools tools checked"
exit $fail

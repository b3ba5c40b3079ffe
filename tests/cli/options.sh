#!/usr/bin/env bash
# Every option of every tool (tests/lib/options_walk.py): bad choices and
# non-numbers are usage errors with one line, listed choices are accepted,
# defaults agree with the man pages, deprecated spellings warn and still work.
source "$(dirname "$0")/../lib/cli.sh"
/usr/bin/python3 "$LT_SRC/tests/lib/options_walk.py" "$LT_BIN" "$LT_SRC/man"

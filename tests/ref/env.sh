# Sourced by the tests that use the numpy reference (tests/ref/*.py).
# Sets LT_SRC, LT_BIN (and PATH), REF, PY (a python3 with numpy and h5py) and
# WORK (a temporary folder removed on exit unless LT_KEEP=1).
: "${LT_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${LT_BUILD:=$LT_SRC/build}"
: "${LT_BIN:=$LT_BUILD/bin}"
export LT_SRC LT_BUILD LT_BIN
export PATH="$LT_BIN:$PATH"
REF="$LT_SRC/tests/ref"

# The Debian python3 has python3-numpy and python3-h5py; a python3 earlier on
# PATH (pyenv, venv) may not.  LT_PYTHON overrides.
PY=
for cand in ${LT_PYTHON:-} python3 /usr/bin/python3; do
  if "$cand" -c 'import numpy, h5py' 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP: no python3 with numpy and h5py (apt-get install python3-numpy python3-h5py, or set LT_PYTHON)" >&2
  exit 77
fi

for t in "$@"; do
  if [ ! -x "$LT_BIN/$t" ]; then
    echo "FAIL: $LT_BIN/$t is missing (set LT_BIN to the binaries' folder)" >&2
    exit 1
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-test.XXXXXX")
if [ "${LT_KEEP:-0}" = 1 ]; then
  echo "keeping $WORK" >&2
else
  trap 'rm -rf "$WORK"' EXIT
fi

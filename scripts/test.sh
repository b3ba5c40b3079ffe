#!/usr/bin/env bash
# Sets up (packages, build) and runs the whole test suite: unit, cli and
# pipeline tiers (ctest labels). Extra arguments go to ctest, e.g. -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${LT_BUILD_DIR:-build}" --output-on-failure -j 2 "$@"

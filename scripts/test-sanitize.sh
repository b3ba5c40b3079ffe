#!/usr/bin/env bash
# Builds lt with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# LT_SANITIZE) in ./build-asan and runs the unit, CLI and fuzz-replay tests
# under it. Any sanitizer report fails the test that triggered it: the CLI
# tests demand an exact stderr, and UBSan is told to stop at the first error.
#   scripts/test-sanitize.sh            # about 15 min of build, 4 of tests on 2 cores
#   scripts/test-sanitize.sh -L unit    # extra arguments go to ctest
# Not covered: the pipeline tier (minutes of training under ASan; the same
# code paths run in the CLI tests) and LibTorch's own code, which is not
# instrumented (its kernels run, but ASan sees only the calls lt makes).
set -euo pipefail
cd "$(dirname "$0")/.."
LT_BUILD_DIR=build-asan LT_CMAKE_ARGS="-DLT_SANITIZE=ON" scripts/setup.sh
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# print_suppressions=0: the known library leaks (tests/sanitize.supp) must not
# add lines to stderr, which the CLI tests check (an HDF5 input read from stdin).
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitize.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [ $# -eq 0 ]; then set -- -L "unit|cli|fuzz"; fi
ctest --test-dir build-asan --output-on-failure -j 2 "$@"

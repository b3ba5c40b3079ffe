# scripts/setup.sh --cuda before it installs or builds anything: a missing or
# empty LT_LIBTORCH, no PyTorch to find one in, Debian's CPU-only LibTorch,
# an unsupported version and a missing CUDA toolkit each stop it with one
# "setup: error:" line and exit 1.
source "$(dirname "$0")/../lib/cli.sh"

# setup.sh --cuda with LT_LIBTORCH=$1 (unset when empty) and PATH=$2 must
# exit 1 with one line matching $3.
refuses() {
    local libtorch=$1 path=$2 pattern=$3 status=0
    if [ -n "$libtorch" ]; then
        env -u CUDACXX PATH="$path" LT_LIBTORCH="$libtorch" bash "$LT_SRC/scripts/setup.sh" --cuda >"$LT_STDOUT" 2>"$LT_STDERR" || status=$?
    else
        env -u LT_LIBTORCH -u CUDACXX PATH="$path" bash "$LT_SRC/scripts/setup.sh" --cuda >"$LT_STDOUT" 2>"$LT_STDERR" || status=$?
    fi
    [ "$status" -eq 1 ] || { cat "$LT_STDERR" >&2; fail "setup.sh --cuda ($libtorch) exited $status, not 1"; }
    [ "$(wc -l <"$LT_STDERR")" -eq 1 ] || { cat "$LT_STDERR" >&2; fail "not one line on stderr"; }
    grep -Eq "^setup: error: $pattern" "$LT_STDERR" || { cat "$LT_STDERR" >&2; fail "no line matching $pattern"; }
    [ ! -s "$LT_STDOUT" ] || fail "setup.sh printed on stdout"
}

# A LibTorch-shaped folder: share/cmake/Torch with version $2, and lib/
# with a libtorch_cuda when $3 = cuda.
fake_libtorch() {
    mkdir -p "$1/share/cmake/Torch" "$1/lib"
    touch "$1/share/cmake/Torch/TorchConfig.cmake" "$1/lib/libtorch_cpu.so"
    echo "set(PACKAGE_VERSION \"$2\")" >"$1/share/cmake/Torch/TorchConfigVersion.cmake"
    [ "$3" != cuda ] || touch "$1/lib/libtorch_cuda.so"
}
# A PATH without nvcc, whose python3 cannot import torch.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexit 1\n' >"$WORK/bin/python3"
chmod +x "$WORK/bin/python3"
bare=$WORK/bin:/usr/bin:/bin

section "no LibTorch given, none to find"
refuses "" "$bare" "--cuda needs a CUDA LibTorch.*LT_LIBTORCH"
refuses "$WORK/absent" "$bare" "LT_LIBTORCH=.*absent is not a folder"
mkdir "$WORK/empty"
refuses "$WORK/empty" "$bare" "no LibTorch in .*empty: no TorchConfig.cmake"

section "a CPU-only LibTorch is refused"
if [ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ]; then
    refuses /usr/lib/x86_64-linux-gnu/cmake/Torch "$bare" "the LibTorch in .* is CPU-only.*without --cuda"
fi
fake_libtorch "$WORK/cpu" 2.3.1 cpu
refuses "$WORK/cpu" "$bare" "the LibTorch in .*cpu/share/cmake/Torch is CPU-only"

section "versions outside 1.13 to 2.x"
fake_libtorch "$WORK/old" 1.12.1 cuda
refuses "$WORK/old" "$bare" "LibTorch 1.12.1 in .*: lt supports 1.13 to 2.x"
fake_libtorch "$WORK/new" 3.0.0 cuda
refuses "$WORK/new" "$bare" "LibTorch 3.0.0 in .*: lt supports 1.13 to 2.x"

section "a CUDA LibTorch without the CUDA toolkit"
fake_libtorch "$WORK/cuda" 2.3.1 cuda
if [ ! -x /usr/local/cuda/bin/nvcc ]; then
    refuses "$WORK/cuda" "$bare" "no CUDA toolkit: LibTorch's CMake files need nvcc"
fi

section "an unknown option"
status=0
bash "$LT_SRC/scripts/setup.sh" --gpu >"$LT_STDOUT" 2>"$LT_STDERR" || status=$?
[ "$status" -eq 1 ] && grep -q "^setup: error: unknown option --gpu" "$LT_STDERR" || fail "setup.sh --gpu"
echo "cuda-setup: ok"

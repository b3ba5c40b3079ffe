# Data-parallel jobs (2 processes over Gloo, started by scripts/lt-launch,
# whose grace before it stops the survivors is set beyond the test's length,
# so that the tools alone must end the job) where one rank differs from the
# others before any work. Checked:
#   - lt-train whose output folder rank 0 cannot write: the job ends at
#     once (not after --dist-timeout), with one error line;
#   - lt-extract where rank 1 reads another list than rank 0 (node-local
#     copies that differ): one error line naming rank 1, no output, rather
#     than rank 0's ids beside rank 1's features;
#   - a usage error of lt-extract, and an unknown option of lt-train: one
#     error line for the job, not one per rank, and status 2 from every rank
#     (a launcher reports the first);
#   - launcher variables that do not fit together: one usage error line, exit 2.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"
export LT_PROVENANCE=fixed LT_LAUNCH_GRACE=600

make_tiny_images "$WORK/fm" 20 4 2 10
D=$WORK/fm
ONE=(--threads 1 --workers 1)
launch() { "$LT_SRC/scripts/lt-launch" --nproc_per_node 2 "$@"; }
error_lines() { grep -c "$1: error:" "$2" || true; }
# job_fails SECONDS ERRFILE COMMAND...: the job must fail within SECONDS
job_fails() {
    local limit=$1 err=$2 status=0 started=$SECONDS
    shift 2
    launch "$@" 2>"$err" || status=$?
    echo "  the job ended with status $status after $((SECONDS - started)) s"
    [[ $status -ne 0 ]] || { cat "$err"; fail "the job succeeded"; }
    (( SECONDS - started <= limit )) || { cat "$err"; fail "the job took more than $limit s to fail"; }
}

section "lt-train: rank 0 cannot write the output folder; rank 1 is told at once"
job_fails 30 "$WORK/folder.err" lt-train --config fashion-mnist-lt --train-list "$D/train.txt" --root "$D" "${ONE[@]}" \
    -q --epochs 1 --batch-size 16 --dist-timeout 300 -o "$WORK/no/such/folder/model.h5"
[[ $(error_lines lt-train "$WORK/folder.err") -eq 1 ]] || { cat "$WORK/folder.err"; fail "expected one error line"; }
expect_grep "lt-train: error: cannot write $WORK/no/such/folder/model.h5" "$WORK/folder.err"

section "lt-extract: rank 1 reads another list than rank 0"
expect_ok lt-train --config fashion-mnist-lt --train-list "$D/train.txt" --root "$D" "${ONE[@]}" -q --epochs 1 --warmup-epochs 0 \
    --batch-size 16 -o "$WORK/model.h5"
mkdir "$WORK/rank0" "$WORK/rank1"
cp "$D/train.txt" "$WORK/rank0/list.txt"
tac "$D/train.txt" >"$WORK/rank1/list.txt"  # the same images, in another order
job_fails 30 "$WORK/list.err" bash -c 'exec lt-extract --model "$1" --list "$2/rank$RANK/list.txt" --root "$3" \
    --threads 1 --workers 1 --batch-size 8 -q -o "$2/features.h5"' - "$WORK/model.h5" "$WORK" "$D"
[[ $(error_lines lt-extract "$WORK/list.err") -eq 1 ]] || { cat "$WORK/list.err"; fail "expected one error line"; }
expect_grep "lt-extract: error: rank 1 of 2 extracts another list" "$WORK/list.err"
[[ ! -e $WORK/features.h5 ]] || fail "a failed job left a features file"

section "lt-extract: a usage error is told once"
status=0
launch lt-extract --list "$D/train.txt" --root "$D" "${ONE[@]}" -o "$WORK/f.h5" 2>"$WORK/usage.err" || status=$?
[[ $status -eq 2 && $(error_lines lt-extract "$WORK/usage.err") -eq 1 ]] ||
    { cat "$WORK/usage.err"; fail "expected one error line and status 2 (every rank's), got status $status"; }
expect_grep "lt-extract: error: no backbone" "$WORK/usage.err"

section "lt-train: an option it does not know is told once"
status=0
launch lt-train --config fashion-mnist-lt --train-list "$D/train.txt" --root "$D" --no-such-option -o "$WORK/m.h5" 2>"$WORK/parse.err" || status=$?
[[ $status -eq 2 && $(error_lines lt-train "$WORK/parse.err") -eq 1 ]] ||
    { cat "$WORK/parse.err"; fail "expected one error line and status 2 (every rank's), got status $status"; }
expect_grep "lt-train: error: .*--no-such-option" "$WORK/parse.err"

section "launcher variables that do not fit together"
(
    export RANK=0 WORLD_SIZE=2 LOCAL_RANK=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1
    expect_fail 2 "LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2" -- lt-extract --model "$WORK/model.h5" \
        --list "$D/train.txt" --root "$D" -o "$WORK/f.h5"
    export RANK=2 LOCAL_RANK=0
    expect_fail 2 "rank 2 is not below the world size 2" -- lt-train --config fashion-mnist-lt \
        --train-list "$D/train.txt" --root "$D" -o "$WORK/m.h5"
    unset RANK
    expect_fail 2 "WORLD_SIZE is set but RANK is not" -- lt-train --config fashion-mnist-lt \
        --train-list "$D/train.txt" --root "$D" -o "$WORK/m.h5"
) || exit 1
echo "distributed-faults.sh: all checks passed"

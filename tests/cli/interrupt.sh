# SIGKILL at random moments (docs/design.md: nothing written is ever left partial).
# lt-extract, lt-attend and lt-train are killed after a random delay between
# 0 and the length of an uninterrupted run; afterwards the output path must
# hold nothing (first write) or the previous complete file, or the complete
# new file. lt-train --resume must then finish with the same model as an
# uninterrupted run, and the next run must remove the killed runs' stale
# temporaries. LT_KILL_SEED=N replays the delays of a failed run.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"
export LT_PROVENANCE=fixed  # complete outputs are byte-identical

seed=${LT_KILL_SEED:-$$}
RANDOM=$seed
echo "kill delays from LT_KILL_SEED=$seed"

# now_s: seconds since the epoch, with fractions
now_s() { date +%s.%N; }
# random_delay SECONDS: uniform in [0, SECONDS)
random_delay() { awk -v t="$1" -v r=$RANDOM 'BEGIN { printf "%.3f", t * r / 32768 }'; }
# timed COMMAND...: runs it, must succeed; sets ELAPSED
timed() {
    local start
    start=$(now_s)
    expect_ok "$@"
    ELAPSED=$(awk -v a="$start" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
}
# kill_after SECONDS COMMAND...: starts COMMAND, SIGKILLs it after SECONDS
# (if it still runs); sets KILLED=1 when the kill hit a running process
kill_after() {
    local delay=$1 pid
    shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    KILLED=0
    if kill -9 "$pid" 2>/dev/null; then KILLED=1; fi
    wait "$pid" 2>/dev/null || true
}
# check_output PATH PREVIOUS COMPLETE: PATH is absent (PREVIOUS = "none"),
# byte-identical to PREVIOUS, or byte-identical to COMPLETE; prints which
check_output() {
    if [[ ! -e $1 ]]; then
        [[ $2 == none ]] || fail "$1 vanished: the previous file was removed"
        echo nothing
    elif [[ $2 != none ]] && cmp -s "$1" "$2"; then
        echo previous
    elif cmp -s "$1" "$3"; then
        echo complete
    else
        fail "$1 is neither the previous nor the complete file (partial?)"
    fi
}
no_stale_temporaries() {
    ! ls "$(dirname "$1")/.$(basename "$1")".tmp.* >/dev/null 2>&1 || fail "stale temporaries of $1 left behind"
}

make_tiny_images "$WORK/fm" 60 6 5 1500
D=$WORK/fm
NET=(--arch resnet20 --preset small --image-size 16 --threads 1 --workers 1)
expect_ok lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/model.h5" "${NET[@]}" \
    --batch-size 16 --lr 0.05 --epochs 1

section "lt-extract killed at random moments"
EXTRACT=(lt-extract -q --model "$WORK/model.h5" --threads 1 --workers 1 --root "$D")
timed "${EXTRACT[@]}" --list "$D/test.txt" -o "$WORK/test-ref.h5"
expect_ok "${EXTRACT[@]}" --list "$D/val.txt" -o "$WORK/val-ref.h5"
outcomes=""
for trial in 1 2 3 4 5 6; do
    previous=none
    rm -f "$WORK/test.h5"
    if (( trial % 2 == 0 )); then cp "$WORK/val-ref.h5" "$WORK/test.h5"; previous=$WORK/val-ref.h5; fi
    kill_after "$(random_delay "$ELAPSED")" "${EXTRACT[@]}" --list "$D/test.txt" -o "$WORK/test.h5"
    outcomes+=" $(check_output "$WORK/test.h5" "$previous" "$WORK/test-ref.h5")"
done
echo "  outcomes (run of $ELAPSED s):$outcomes"
expect_ok "${EXTRACT[@]}" --list "$D/test.txt" -o "$WORK/test.h5"
cmp -s "$WORK/test.h5" "$WORK/test-ref.h5" || fail "a run after the kills differs from the reference"
no_stale_temporaries "$WORK/test.h5"

section "lt-attend killed at random moments"
/usr/bin/python3 - "$WORK" <<'PY' || fail "writing the attention inputs"
import sys, h5py, numpy as np
rng = np.random.default_rng(0)
classes, dim = 2000, 1024
for name, lt_type, matrix, counts in (("clf.h5", "classifier", "weights", "class_counts"),
                                      ("protos.h5", "prototypes", "prototypes", "counts")):
    with h5py.File(f"{sys.argv[1]}/{name}", "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = lt_type
        f[matrix] = rng.normal(size=(classes, dim)).astype("f4")
        f["class_ids"] = np.arange(classes)
        f[counts] = rng.integers(1, 500, classes)
PY
ATTEND=(lt-attend -q --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" --threads 1)
timed "${ATTEND[@]}" -k 20 -o "$WORK/wh-ref.h5"
expect_ok "${ATTEND[@]}" -k 40 -o "$WORK/wh-k40.h5"
outcomes=""
for trial in 1 2 3 4 5 6; do
    previous=none
    rm -f "$WORK/wh.h5"
    if (( trial % 2 == 0 )); then cp "$WORK/wh-k40.h5" "$WORK/wh.h5"; previous=$WORK/wh-k40.h5; fi
    kill_after "$(random_delay "$ELAPSED")" "${ATTEND[@]}" -k 20 -o "$WORK/wh.h5"
    outcomes+=" $(check_output "$WORK/wh.h5" "$previous" "$WORK/wh-ref.h5")"
done
echo "  outcomes (run of $ELAPSED s):$outcomes"
expect_ok "${ATTEND[@]}" -k 20 -o "$WORK/wh.h5"
no_stale_temporaries "$WORK/wh.h5"

section "a crash (SIGSEGV) says so in one line, removes the temporary and ends by the signal"
# In a sanitizer build AddressSanitizer owns SIGSEGV: it reports the crash
# and ends the process before lt can remove its temporary.
if [[ -n ${ASAN_OPTIONS:-} ]]; then
    echo "  (sanitizer build: skipped)"
else
    rm -f "$WORK/wh.h5"
    "${ATTEND[@]}" -k 20 -o "$WORK/wh.h5" 2>"$WORK/crash.err" &
    pid=$!
    sleep "$(awk -v t="$ELAPSED" 'BEGIN { printf "%.3f", t / 2 }')"
    kill -SEGV "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
    if [[ $status -eq 0 ]]; then
        echo "  (the run ended before the signal; nothing to check)"
    else
        expect_equal "$status" 139 "exit status after SIGSEGV"
        expect_lines "$WORK/crash.err" 1
        expect_grep '^lt-attend: error: crashed \(a bug in lt, or an input file the HDF5 library cannot read safely\)$' "$WORK/crash.err"
    fi
    [[ ! -e $WORK/wh.h5 ]] || fail "a crashed run left an output"
    no_stale_temporaries "$WORK/wh.h5"
fi

section "lt-train killed at random moments, then --resume: the uninterrupted model"
TRAIN=(lt-train -q --train-list "$D/train.txt" --root "$D" "${NET[@]}" --batch-size 16 --lr 0.05 --seed 4 --epochs 2)
timed "${TRAIN[@]}" -o "$WORK/whole.h5"
outcomes=""
for trial in 1 2 3; do
    rm -f "$WORK/cut.h5"
    kill_after "$(random_delay "$ELAPSED")" "${TRAIN[@]}" -o "$WORK/cut.h5"
    if [[ -e $WORK/cut.h5 ]]; then
        # a complete checkpoint: a model file lt-extract reads, at epoch 1 or 2
        epoch=$(/usr/bin/python3 -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs["epoch"])' "$WORK/cut.h5") ||
            fail "the checkpoint left by a killed run is not readable"
        [[ $epoch == 1 || $epoch == 2 ]] || fail "checkpoint at epoch '$epoch'"
        outcomes+=" epoch-$epoch"
    else
        outcomes+=" nothing"
    fi
    expect_ok "${TRAIN[@]}" -o "$WORK/cut.h5" --resume
    /usr/bin/python3 "$LT_SRC/tests/lib/same_h5.py" "$WORK/whole.h5" "$WORK/cut.h5" ||
        fail "trial $trial: the resumed model differs from the uninterrupted one"
    no_stale_temporaries "$WORK/cut.h5"
done
echo "  outcomes (run of $ELAPSED s):$outcomes"
echo "interrupt.sh: every killed run left nothing, the previous file or a complete one"

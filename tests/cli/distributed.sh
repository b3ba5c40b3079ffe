# Data-parallel lt-train and lt-extract: 2 processes on loopback over Gloo,
# started by torchrun when python3-torch is installed, else by lt's own
# launcher (scripts/lt-launch), which sets the same variables
# (LT_TEST_LAUNCHER=own forces it). Checked:
#   - 2 processes at global batch B train the parameters of 1 process with
#     --micro-batches 2 at batch B (the default recipe, 2 epochs; to 1e-3
#     relative, the observed difference is printed);
#   - the multi-node shape (two launchers, --nnodes 2, node ranks 0 and 1)
#     trains the same model;
#   - a process killed in epoch 2: the other stops within 60 s with one error
#     line naming the rank, the job fails, the checkpoint of epoch 1 stays,
#     no temporary is left, and --resume under the launcher ends with the
#     model of an uninterrupted run;
#   - a hung process: the other gives up after --dist-timeout, naming it;
#   - a corrupt image that one process meets: its error line, and no other;
#   - --sync-bn: BatchNorm's running statistics are those of one process
#     over the whole batch;
#   - lt-extract under the launcher writes the file one process writes.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"
export LT_PROVENANCE=fixed

if [[ ${LT_TEST_LAUNCHER:-} != own ]] && command -v torchrun >/dev/null &&
    /usr/bin/python3 -c 'import torch.distributed.run' 2>/dev/null; then
    # Debian 12's torchrun crashes with its default --redirects/--tee (Python 3.11).
    # Not --standalone: its fixed port (29400) is taken when another job runs.
    # MONITOR: seconds between torchrun's looks at its processes (its default
    # 5). Once it sees one fail, it ends the others with SIGTERM, so a fault
    # test sets it beyond the job's length: otherwise torchrun may end the
    # survivor before this one can report the fault (slow sanitizer builds).
    launch() {
        local n=$1; shift
        torchrun --nnodes 1 --rdzv_backend c10d --rdzv_endpoint "127.0.0.1:$(free_port)" --nproc_per_node "$n" \
            --monitor_interval "${MONITOR:-5}" --redirects 2 --tee 2 --no_python "$@"
    }
    launch_node() {
        local node=$1 port=$2; shift 2
        torchrun --nnodes 2 --node_rank "$node" --master_addr 127.0.0.1 --master_port "$port" --nproc_per_node 1 \
            --redirects 2 --tee 2 --no_python "$@"
    }
    echo "launcher: torchrun"
else
    launch() { local n=$1; shift; "$LT_SRC/scripts/lt-launch" --nproc_per_node "$n" "$@"; }
    launch_node() {
        local node=$1 port=$2; shift 2
        "$LT_SRC/scripts/lt-launch" --nnodes 2 --node_rank "$node" --master_addr 127.0.0.1 --master_port "$port" \
            --nproc_per_node 1 "$@"
    }
    echo "launcher: scripts/lt-launch"
fi
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
# A job's lt-* process of the given rank (the job is told apart by LT_TEST_JOB).
pid_of_rank() {
    local pid
    for pid in $(pgrep -x "$1"); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "LT_TEST_JOB=$LT_TEST_JOB" &&
            tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "RANK=$2"; then
            echo "$pid"
            return
        fi
    done
}
# A process that has not ended (an ended one that its launcher has not yet
# reaped is a zombie, which kill -0 still finds).
running() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
epoch_of() { /usr/bin/python3 -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs["epoch"])' "$1"; }
error_lines() { grep -c "$1: error:" "$2" || true; }
# compare A B: the largest relative difference ||a - b|| / ||b|| over the parameters
compare() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
worst = 0.0
for group in ("backbone", "classifier"):
    for key in b[group]:
        if "running" in key or "num_batches" in key:
            continue
        x, y = a[group][key][()].astype(np.float64), b[group][key][()].astype(np.float64)
        worst = max(worst, np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30))
print(f"{worst:.3g}")
PY
}
no_temporaries() { ! ls "$(dirname "$1")/.$(basename "$1")".tmp.* >/dev/null 2>&1 || fail "temporaries of $1 left behind"; }

make_tiny_images "$WORK/fm" 250 25 5 10
D=$WORK/fm
ONE=(--threads 1 --workers 1)
LOUD=(--config fashion-mnist-lt --train-list "$D/train.txt" --root "$D" "${ONE[@]}")
RECIPE=("${LOUD[@]}" -q)
export LT_TEST_JOB=$$

section "2 processes at batch 128 = 1 process with --micro-batches 2 (fashion-mnist-lt recipe, 2 epochs)"
expect_ok lt-train "${RECIPE[@]}" --epochs 2 --micro-batches 2 -o "$WORK/micro.h5" --val-list "$D/val.txt" \
    --log "$WORK/micro.jsonl"
if ! launch 2 lt-train "${RECIPE[@]}" --epochs 2 -o "$WORK/two.h5" --val-list "$D/val.txt" --log "$WORK/two.jsonl" \
    2>"$WORK/two.err"; then
    if grep -q "built without LibTorch's c10d" "$WORK/two.err"; then
        echo "SKIP: this lt was built without c10d (libgloo-dev missing)"
        exit 77
    fi
    cat "$WORK/two.err"
    fail "2-process training failed"
fi
difference=$(compare "$WORK/two.h5" "$WORK/micro.h5")
echo "  largest relative parameter difference: $difference (tolerance 1e-3)"
awk -v d="$difference" 'BEGIN { exit !(d <= 1e-3) }' || fail "2 processes and --micro-batches 2 differ by $difference"
expect_equal "$(epoch_of "$WORK/two.h5")" 2 "epochs of the 2-process model"
/usr/bin/python3 - "$WORK/two.h5" "$WORK/two.jsonl" "$WORK/micro.jsonl" <<'PY' || fail "2-process checkpoint or log"
import json, sys, h5py
state = h5py.File(sys.argv[1], "r")["train_state"].attrs
assert (state["world_size"], state["micro_batches"], state["sync_bn"], state["batch_norm_batch"]) == (2, 1, 0, 64), dict(state)
two, micro = ([json.loads(l) for l in open(p)] for p in sys.argv[2:])
assert len(two) == len(micro) == 2
for a, b in zip(two, micro):  # rank 0 alone writes the log; validation covers the whole list
    assert abs(a["loss"] - b["loss"]) <= 1e-5 * abs(b["loss"]), (a, b)
    assert a["val_top1"] == b["val_top1"], (a, b)
PY
# The comparison can fail: per-process batches without micro-batches are another computation.
expect_ok lt-train "${RECIPE[@]}" --epochs 2 -o "$WORK/whole-batch.h5"
awk -v d="$(compare "$WORK/whole-batch.h5" "$WORK/micro.h5")" 'BEGIN { exit !(d > 1e-3) }' ||
    fail "BatchNorm over 128 and over 64 images compare equal"

section "the multi-node shape: two launchers (--nnodes 2, node ranks 0 and 1) on loopback"
port=$(free_port)
launch_node 1 "$port" lt-train "${RECIPE[@]}" --epochs 2 -o "$WORK/nodes.h5" 2>"$WORK/node1.err" &
node1=$!
launch_node 0 "$port" lt-train "${RECIPE[@]}" --epochs 2 -o "$WORK/nodes.h5" 2>"$WORK/node0.err" ||
    { cat "$WORK/node0.err"; fail "node 0 failed"; }
wait "$node1" || { cat "$WORK/node1.err"; fail "node 1 failed"; }
expect_equal "$(compare "$WORK/nodes.h5" "$WORK/two.h5")" 0 "difference between the 2-node and the 2-process model"

section "rank 1 killed in epoch 2: one error line naming it, the checkpoint of epoch 1 stays, --resume continues"
TRAIN=(lt-train "${RECIPE[@]}" --epochs 3 --sampler instance)
launch 2 "${TRAIN[@]}" -o "$WORK/whole.h5" 2>"$WORK/whole.err" || { cat "$WORK/whole.err"; fail "training failed"; }
MONITOR=90 launch 2 "${TRAIN[@]}" -o "$WORK/cut.h5" 2>"$WORK/cut.err" &
job=$!
while [[ ! -e $WORK/cut.h5 ]] && kill -0 "$job" 2>/dev/null; do sleep 0.02; done
sleep 0.2  # into epoch 2
victim=$(pid_of_rank lt-train 1)
survivor=$(pid_of_rank lt-train 0)
[[ -n $victim && -n $survivor ]] || fail "no rank 1 to kill (epoch 2 too short?)"
kill -9 "$victim"
killed=$SECONDS
while running "$survivor" && (( SECONDS - killed <= 60 )); do sleep 0.1; done
echo "  rank 0 stopped $((SECONDS - killed)) s after the kill"
(( SECONDS - killed <= 60 )) || fail "the surviving rank took more than 60 s to stop"
status=0
wait "$job" || status=$?
echo "  the job ended with status $status"
[[ $status -ne 0 ]] || fail "the job succeeded although a rank was killed"
[[ $(error_lines lt-train "$WORK/cut.err") -eq 1 ]] || { cat "$WORK/cut.err"; fail "expected one lt-train error line"; }
expect_grep 'lt-train: error: rank 1 of 2 stopped in epoch 2 of 3 .*--resume' "$WORK/cut.err"
expect_equal "$(epoch_of "$WORK/cut.h5")" 1 "epoch of the checkpoint left by the failed job"
no_temporaries "$WORK/cut.h5"
launch 2 "${TRAIN[@]}" -o "$WORK/cut.h5" --resume 2>"$WORK/resume.err" ||
    { cat "$WORK/resume.err"; fail "--resume under the launcher failed"; }
/usr/bin/python3 "$LT_SRC/tests/lib/same_h5.py" "$WORK/whole.h5" "$WORK/cut.h5" ||
    fail "the resumed job's model differs from the uninterrupted one"

section "rank 1 hung (SIGSTOP): rank 0 gives up after --dist-timeout, naming it"
launch 2 "${TRAIN[@]}" -o "$WORK/hang.h5" --dist-timeout 4 2>"$WORK/hang.err" &
job=$!
while [[ ! -e $WORK/hang.h5 ]] && kill -0 "$job" 2>/dev/null; do sleep 0.02; done
victim=$(pid_of_rank lt-train 1)
[[ -n $victim ]] || fail "no rank 1 to stop"
kill -STOP "$victim"
stopped=$SECONDS
survivor=$(pid_of_rank lt-train 0)
while running "$survivor" && (( SECONDS - stopped < 60 )); do sleep 0.1; done
took=$((SECONDS - stopped))
kill -9 "$victim" 2>/dev/null || true
wait "$job" || true
echo "  rank 0 stopped $took s after rank 1 hung"
(( took >= 3 && took <= 30 )) || fail "rank 0 stopped $took s after the hang, not after about 4 s"
[[ $(error_lines lt-train "$WORK/hang.err") -eq 1 ]] || { cat "$WORK/hang.err"; fail "expected one error line"; }
expect_grep 'lt-train: error: rank 1 of 2 did not answer for 4 s' "$WORK/hang.err"
no_temporaries "$WORK/hang.h5"

section "a corrupt image met by one rank: its error line alone, no model"
head -255 "$D/train.txt" >"$WORK/part.txt"
cp "$D/$(head -1 "$D/train.txt" | cut -d' ' -f1)" "$D/corrupt.png"
printf 'garbage' | dd of="$D/corrupt.png" bs=1 seek=40 conv=notrunc 2>/dev/null
{ cat "$WORK/part.txt"; echo "corrupt.png 1"; } >"$WORK/corrupt.txt"
status=0
launch 2 lt-train --config fashion-mnist-lt --train-list "$WORK/corrupt.txt" --root "$D" "${ONE[@]}" -q \
    --batch-size 16 --sampler instance -o "$WORK/bad.h5" 2>"$WORK/bad.err" || status=$?
[[ $status -ne 0 ]] || fail "a job with a corrupt image succeeded"
[[ $(error_lines lt-train "$WORK/bad.err") -eq 1 ]] || { cat "$WORK/bad.err"; fail "expected one error line"; }
expect_grep "lt-train: error: cannot decode image .*corrupt\.png.*line 256" "$WORK/bad.err"
[[ ! -e $WORK/bad.h5 ]] || fail "a failed job left a model"
no_temporaries "$WORK/bad.h5"
status=0
launch 2 lt-train "${RECIPE[@]}" --batch-size 127 -o "$WORK/bad.h5" 2>"$WORK/usage.err" || status=$?
[[ $status -ne 0 && $(error_lines lt-train "$WORK/usage.err") -eq 1 ]] || { cat "$WORK/usage.err"; fail "usage error"; }
expect_grep "lt-train: error: --batch-size 127 does not split evenly into 2 processes" "$WORK/usage.err"

section "--sync-bn: the running statistics of one process over the whole batch; a warning printed once, by rank 0"
# --warmup-epochs 1 of 1 warns (a learning rate of 0 is 0 with or without warm-up).
FROZEN=(--epochs 1 --lr 0 --warmup-epochs 1)
warning='warning: --warmup-epochs 1 is not below --epochs 1'
expect_logged lt-train "${RECIPE[@]}" "${FROZEN[@]}" -o "$WORK/frozen.h5"
launch 2 lt-train "${RECIPE[@]}" "${FROZEN[@]}" --sync-bn -o "$WORK/frozen-sync.h5" 2>"$WORK/sync.err" ||
    { cat "$WORK/sync.err"; fail "--sync-bn failed"; }
[[ $(grep -c "$warning" "$WORK/sync.err") -eq 1 ]] || { cat "$WORK/sync.err"; fail "expected the warning once"; }
expect_grep "lt-train: $warning" "$WORK/sync.err"
# -v: every rank speaks, each line naming its rank.
launch 2 lt-train "${LOUD[@]}" -v "${FROZEN[@]}" -o "$WORK/frozen-per-rank.h5" 2>"$WORK/loud.err" ||
    { cat "$WORK/loud.err"; fail "training failed"; }
[[ $(grep -c "$warning" "$WORK/loud.err") -eq 2 ]] || { cat "$WORK/loud.err"; fail "-v: expected the warning from both ranks"; }
expect_grep "lt-train \\(rank 1\\): $warning" "$WORK/loud.err"
expect_grep "lt-train \\(rank 1\\): rank 1 of 2 .*joined the job" "$WORK/loud.err"
/usr/bin/python3 - "$WORK/frozen.h5" "$WORK/frozen-sync.h5" "$WORK/frozen-per-rank.h5" <<'PY' || fail "--sync-bn statistics"
import sys, h5py, numpy as np
one, synced, per_rank = (h5py.File(p, "r")["backbone"] for p in sys.argv[1:])
keys = [k for k in one if "running" in k]
gap = lambda f: max(np.abs(f[k][()] - one[k][()]).max() / max(np.abs(one[k][()]).max(), 1e-6) for k in keys)
print(f"  running statistics, relative to one process: --sync-bn {gap(synced):.2g}, per process {gap(per_rank):.2g}")
# --sync-bn's variance comes from the ranks' sums of x and x^2, one
# process's from its own kernel (NHWC: another summation order): float32
# rounding of order 1e-4; per-rank statistics are two orders further.
assert gap(synced) < 1e-3 and gap(per_rank) > 1e-2
assert h5py.File(sys.argv[2], "r")["train_state"].attrs["batch_norm_batch"] == 128
PY

section "lt-extract under the launcher: the file of one process"
EXTRACT=(lt-extract --model "$WORK/two.h5" --list "$D/train.txt" --root "$D" "${ONE[@]}" --batch-size 100 -q)
expect_ok "${EXTRACT[@]}" -o "$WORK/feats-one.h5"
launch 2 "${EXTRACT[@]}" -o "$WORK/feats-two.h5" 2>"$WORK/extract.err" || { cat "$WORK/extract.err"; fail "extraction"; }
cmp -s "$WORK/feats-one.h5" "$WORK/feats-two.h5" || fail "the 2-process features file differs from the 1-process one"
expect_ok "${EXTRACT[@]}" --shard 2/3 -o "$WORK/shard-one.h5"
launch 2 "${EXTRACT[@]}" --shard 2/3 -o "$WORK/shard-two.h5" 2>"$WORK/extract.err" || fail "sharded extraction"
cmp -s "$WORK/shard-one.h5" "$WORK/shard-two.h5" || fail "a shard extracted by 2 processes differs"
echo "distributed.sh: all checks passed"

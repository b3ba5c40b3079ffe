# lt-train: the model file's layout, training that learns, classes left out,
# the other heads, losses and samplers, recipes, --init, kill-and-resume
# equality, and bad input: exit 1 (2 for usage), one error line, no output.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"

make_tiny_images "$WORK/fm" 40 4 5 20
D=$WORK/fm
# Small and fast: 16-px inputs, a CIFAR ResNet-20, one thread (results are
# reproducible for a fixed thread count, and one thread does not slow down
# when other tests share the cores).
NET=(--arch resnet20 --preset small --image-size 16 --threads 1 --workers 1)
FAST=("${NET[@]}" --batch-size 16 --lr 0.05)

same_model() { /usr/bin/python3 "$LT_SRC/tests/lib/same_h5.py" "$1" "$2"; }
attr() { /usr/bin/python3 -c 'import sys, h5py; v = h5py.File(sys.argv[1], "r")[sys.argv[2]].attrs[sys.argv[3]]; print(v.decode() if isinstance(v, bytes) else v)' "$@"; }

section "one epoch: the model file (backbone with torchvision names, classifier, train state)"
expect_ok lt-train -q --train-list "$D/train.txt" --val-list "$D/val.txt" --root "$D" -o "$WORK/one.h5" \
    "${FAST[@]}" --epochs 1 --log "$WORK/one.jsonl"
expect_lines "$WORK/one.jsonl" 1
/usr/bin/python3 - "$WORK/one.h5" "$WORK/one.jsonl" "$D/train.txt" <<'PY' || fail "model file layout"
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["lt_type"] == "model" and f.attrs["arch"] == "resnet20", dict(f.attrs)
assert f.attrs["epoch"] == 1 and f.attrs["epochs"] == 1
# resnet20 as torchvision-style names: stem, 3 stages of 3 basic blocks,
# a projection shortcut where a stage starts with stride 2.
bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
expected = {"conv1.weight"} | {"bn1." + k for k in bn}
for stage in (1, 2, 3):
    for block in range(3):
        p = f"layer{stage}.{block}."
        expected |= {p + "conv1.weight", p + "conv2.weight"} | {p + b + "." + k for b in ("bn1", "bn2") for k in bn}
        if stage > 1 and block == 0:
            expected |= {p + "downsample.0.weight"} | {p + "downsample.1." + k for k in bn}
got = set(f["backbone"])
assert got == expected, (sorted(got ^ expected))[:5]
labels = np.array([int(l.split()[-1]) for l in open(sys.argv[3])])
steps = len(labels) // 16  # batch size 16, the last partial batch dropped
assert f["backbone/conv1.weight"].shape == (16, 3, 3, 3) and f["backbone/conv1.weight"].dtype == np.float32
assert f["backbone/bn1.num_batches_tracked"].dtype == np.int64 and f["backbone/bn1.num_batches_tracked"][()] == steps
c = f["classifier"]
assert c.attrs["kind"] == "cosine" and 0 < c.attrs["scale"] < 100
assert c["weights"].shape == (10, 64) and c["weights"].dtype == np.float32
assert list(c["class_ids"][:]) == list(range(10))
assert list(c["class_counts"][:]) == [int((labels == k).sum()) for k in range(10)]
s = f["train_state"]
assert s.attrs["epoch"] == 1 and s.attrs["step"] == steps
# one process, one micro-batch: BatchNorm over the batch of 16
assert [s.attrs[k] for k in ("world_size", "micro_batches", "sync_bn", "batch_norm_batch")] == [1, 1, 0, 16]
m = s["momentum"]
assert set(m) == {"backbone." + k for k in got if "running" not in k and "num_batches" not in k} | {"classifier.weight", "classifier.scale"}
line = json.loads(open(sys.argv[2]).read())
for key in ("epoch", "lr", "loss", "train_images_per_s", "val_top1", "val_many", "val_medium", "val_few"):
    assert key in line, key
PY
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/shown.h5" "${FAST[@]}" --epochs 1
expect_grep '^lt-train: epoch 1/1: loss [0-9.]+, lr [0-9.e-]+, [0-9]+ images/s$' "$LT_STDERR"
! grep -q 'warning' "$LT_STDERR" || fail "unexpected warning: $(grep warning "$LT_STDERR")"
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/shown.h5" "${FAST[@]}" --epochs 1 --warmup-epochs 1
expect_grep '^lt-train: warning: --warmup-epochs 1 is not below --epochs 1: the learning rate never decays$' "$LT_STDERR"

section "off a terminal, a progress line every --progress-interval seconds; none with 0 or -q"
lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/progress.h5" "${NET[@]}" --batch-size 2 --lr 0.05 \
    --epochs 1 --progress-interval 0.01 2>"$WORK/progress.err" || fail "lt-train --progress-interval 0.01"
expect_grep '^lt-train: epoch 1/1: [0-9]+/[0-9]+ \([0-9]+%\) after [0-9]+s, [0-9.]+ images/s(, ETA [0-9]+s)?, loss [0-9.]+$' \
    "$WORK/progress.err"
for quiet in "--progress-interval 0" "-q --progress-interval 0.01" ""; do
    lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/progress.h5" "${NET[@]}" --batch-size 2 --lr 0.05 \
        --epochs 1 $quiet 2>"$WORK/progress.err" || fail "lt-train $quiet"
    ! grep -q '^lt-train: epoch 1/1: [0-9]*/' "$WORK/progress.err" || fail "progress lines with '$quiet'"
done

section "classes left out of the train list get no classifier row (global ids kept)"
grep -v ' [379]$' "$D/train.txt" >"$D/seen.txt"
expect_ok lt-train -q --train-list "$D/seen.txt" --root "$D" -o "$WORK/seen.h5" "${FAST[@]}" --epochs 1
expect_equal "$(/usr/bin/python3 -c 'import sys,h5py; print(*h5py.File(sys.argv[1])["classifier/class_ids"][:])' "$WORK/seen.h5")" \
    "0 1 2 4 5 6 8" "class ids of a model trained without classes 3, 7, 9"
# Their validation images can only be errors: said once, as lt-eval says it.
expect_logged lt-train -q --train-list "$D/seen.txt" --val-list "$D/val.txt" --root "$D" -o "$WORK/seen-val.h5" \
    "${FAST[@]}" --epochs 1
untrained=$(grep -c ' [379]$' "$D/val.txt")
expect_grep "^lt-train: warning: $D/val.txt: 3 classes \\($untrained of $(wc -l <"$D/val.txt") images\\) not in the training list, ids 3, 7, 9: counted as errors \\(accuracy 0\\) in val top-1 and among the few-shot classes\$" "$LT_STDERR"
expect_lines "$LT_STDERR" 1

section "linear head, balanced softmax, class-aware and progressive sampling, warm-up, two learning rates"
expect_ok lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/linear.h5" "${FAST[@]}" --epochs 1 \
    --head linear --loss balanced-softmax --sampler class-aware --warmup-epochs 0.5 --lr-backbone 0.01
expect_equal "$(attr "$WORK/linear.h5" classifier kind)" linear "classifier kind"
/usr/bin/python3 -c 'import sys,h5py; assert h5py.File(sys.argv[1])["classifier/bias"].shape == (10,)' "$WORK/linear.h5" ||
    fail "linear classifier without bias"
expect_equal "$(attr "$WORK/linear.h5" / lr_backbone)" 0.01 "recorded backbone learning rate"
expect_ok lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/progressive.h5" "${FAST[@]}" --epochs 1 \
    --sampler progressive
expect_equal "$(attr "$WORK/progressive.h5" / sampler)" progressive "recorded sampler"

section "two epochs learn: the loss falls and validation beats chance"
make_tiny_images "$WORK/big" 250 25 5 10
BIG=(--train-list "$WORK/big/train.txt" --val-list "$WORK/big/val.txt" --root "$WORK/big" "${NET[@]}" --batch-size 16 -q)
RUN=("${BIG[@]}" --lr 0.05 --seed 5)
expect_ok lt-train "${RUN[@]}" --epochs 2 -o "$WORK/whole.h5" --log "$WORK/whole.jsonl"
/usr/bin/python3 - "$WORK/whole.jsonl" <<'PY' || fail "training did not learn"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
assert [e["epoch"] for e in log] == [1, 2]
assert log[1]["loss"] < 0.7 * log[0]["loss"], [e["loss"] for e in log]
assert log[1]["val_top1"] >= 50, log[1]  # 10 classes: chance is 10%
assert log[1]["lr"] < log[0]["lr"]  # cosine decay
PY

section "kill -9 during epoch 2, then --resume: the same model as an uninterrupted run"
lt-train "${RUN[@]}" --epochs 2 -o "$WORK/cut.h5" &
pid=$!
while [[ ! -e $WORK/cut.h5 ]] && kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
sleep 0.1  # a few steps into epoch 2 (which takes about a second)
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[[ -e $WORK/cut.h5 ]] || fail "no checkpoint after epoch 1"
expect_equal "$(attr "$WORK/cut.h5" / epoch)" 1 "epoch of the checkpoint left by the killed run (epoch 2 too short to interrupt?)"
expect_ok lt-train "${RUN[@]}" --epochs 2 -o "$WORK/cut.h5" --resume
! ls "$WORK"/.cut.h5.tmp.* >/dev/null 2>&1 || fail "a temporary of the killed run is left behind"
expect_equal "$(attr "$WORK/cut.h5" / epoch)" 2 "epoch after resuming"
same_model "$WORK/whole.h5" "$WORK/cut.h5" || fail "resumed model differs from the uninterrupted one"
# The comparison can fail: another seed gives another model.
expect_ok lt-train "${BIG[@]}" --lr 0.05 --seed 6 --epochs 1 -o "$WORK/other.h5"
! same_model "$WORK/cut.h5" "$WORK/other.h5" >/dev/null || fail "different runs compare equal"

section "--resume of a finished run does nothing; more --epochs continue it; other options are refused"
cp "$WORK/whole.h5" "$WORK/again.h5"
expect_ok lt-train "${RUN[@]}" --epochs 2 -o "$WORK/again.h5" --resume
cmp -s "$WORK/whole.h5" "$WORK/again.h5" || fail "resuming a finished run rewrote it"
expect_ok lt-train "${RUN[@]}" -o "$WORK/again.h5" --resume --epochs 3
expect_equal "$(attr "$WORK/again.h5" / epoch)" 3 "epoch after extending the run"
expect_fail 2 'trained with lr 0.05, not 0.1' -- lt-train "${BIG[@]}" --seed 5 --lr 0.1 --epochs 3 -o "$WORK/whole.h5" --resume
head -n -1 "$WORK/big/train.txt" >"$WORK/big/shorter.txt"
expect_fail 2 "cannot resume .*whole\.h5: it was trained on another training list \(or on .*big/train\.txt as it was then: its lines differ now\)" -- \
    lt-train --train-list "$WORK/big/shorter.txt" --root "$WORK/big" "${NET[@]}" --batch-size 16 -q --lr 0.05 --seed 5 \
    --epochs 3 -o "$WORK/whole.h5" --resume
expect_ok lt-train "${RUN[@]}" -o "$WORK/fresh.h5" --resume --epochs 1  # no checkpoint yet: from scratch
expect_equal "$(attr "$WORK/fresh.h5" / epoch)" 1 "epoch of a --resume without checkpoint"

section "--init: torchvision-named weights at the root, fc.* ignored, a report on stderr"
/usr/bin/python3 - "$WORK/one.h5" "$WORK/init.h5" <<'PY'
import sys, h5py, numpy as np
src, out = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "w")
for key, value in src["backbone"].items():
    out[key] = value[()]
out["fc.weight"] = np.zeros((1000, 64), np.float32)
out["fc.bias"] = np.zeros(1000, np.float32)
out["extra.weight"] = np.zeros(3, np.float32)
PY
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/init-trained.h5" "${NET[@]}" --batch-size 16 --epochs 1 \
    --init "$WORK/init.h5" --lr 0
expect_grep 'loaded 126 of 126 tensors; 0 missing; 1 unexpected; 2 ignored \(fc\.\*\); unexpected: extra\.weight' "$LT_STDERR"
expect_grep 'warning: --init .*0 missing and 1 unexpected' "$LT_STDERR"
# With a zero learning rate the convolutions keep the loaded values.
/usr/bin/python3 - "$WORK/one.h5" "$WORK/init-trained.h5" <<'PY' || fail "--init weights not used"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for key in ("conv1.weight", "layer3.2.conv2.weight"):
    assert np.array_equal(a["backbone"][key][()], b["backbone"][key][()]), key
PY
/usr/bin/python3 -c '
import sys, h5py, numpy as np
h5py.File(sys.argv[1], "w")["conv1.weight"] = np.zeros((16, 3, 5, 5), np.float32)' "$WORK/bad-shape.h5"
expect_fail 1 "shape mismatch for 'conv1.weight'" "$WORK/x.h5" -- \
    lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/x.h5" "${FAST[@]}" --init "$WORK/bad-shape.h5"
expect_fail 1 "cannot open .*no-init\.h5" "$WORK/x.h5" -- \
    lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/x.h5" "${FAST[@]}" --init "$WORK/no-init.h5"
/usr/bin/python3 -c 'import sys, h5py, numpy as np; h5py.File(sys.argv[1], "w")["features"] = np.zeros((2, 3), np.float32)' \
    "$WORK/nothing.h5"
expect_fail 1 'no weight of .* matches a resnet20 parameter' "$WORK/x.h5" -- \
    lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/x.h5" "${FAST[@]}" --init "$WORK/nothing.h5"
/usr/bin/python3 -c 'import sys, h5py; f = h5py.File(sys.argv[1], "a"); f.attrs["lt_type"] = "features"' "$WORK/nothing.h5"
expect_fail 1 "nothing\.h5 is a 'features' file, not weights" "$WORK/x.h5" -- \
    lt-train -q --train-list "$D/train.txt" --root "$D" -o "$WORK/x.h5" "${FAST[@]}" --init "$WORK/nothing.h5"

section "recipes: by name, by path, overridden on the command line"
expect_ok lt-train -q --config fashion-mnist-lt --train-list "$D/train.txt" --root "$D" -o "$WORK/recipe.h5" \
    --epochs 1 --warmup-epochs 0 --batch-size 32 --image-size 16 --threads 1
expect_equal "$(attr "$WORK/recipe.h5" / arch)/$(attr "$WORK/recipe.h5" / preset)/$(attr "$WORK/recipe.h5" / sampler)" \
    "resnet20/small/sqrt" "recipe values"
expect_equal "$(attr "$WORK/recipe.h5" / epochs)/$(attr "$WORK/recipe.h5" / batch_size)" "1/32" "overridden values"
for recipe in imagenet-lt-resnext50 places-lt-resnet152 places-lt-resnet101; do
    [[ -f $LT_SRC/share/recipes/$recipe ]] || fail "recipe $recipe missing"
done
printf 'arch = "resnet32"\nepochs = 1\n' >"$WORK/my-recipe.ini"
expect_ok lt-train -q --config "$WORK/my-recipe.ini" --train-list "$D/train.txt" --root "$D" -o "$WORK/mine.h5" \
    --preset small --image-size 16 --batch-size 32 --threads 1
expect_equal "$(attr "$WORK/mine.h5" / arch)" resnet32 "arch from a recipe file"
expect_fail 2 "no recipe or file 'no-such-recipe' \(recipes: .*fashion-mnist-lt" "$WORK/x.h5" -- \
    lt-train --config no-such-recipe --train-list "$D/train.txt" --root "$D" -o "$WORK/x.h5"

section "bad input: exit 1 (2 for usage), one error line, no output"
T=(--root "$D" "${NET[@]}" --lr 0.05 --epochs 1 -q)  # -q: nothing but the error line
X=$WORK/x.h5
head -20 "$D/train.txt" >"$WORK/part.txt"
{ cat "$WORK/part.txt"; echo "train/0/missing.png 0"; } >"$WORK/missing.txt"
expect_fail 1 "missing\.png.*line 21" "$X" -- lt-train --train-list "$WORK/missing.txt" "${T[@]}" --batch-size 4 -o "$X"
cp "$D/$(head -1 "$D/train.txt" | cut -d' ' -f1)" "$D/corrupt.png"
printf 'garbage' | dd of="$D/corrupt.png" bs=1 seek=40 conv=notrunc 2>/dev/null
{ cat "$WORK/part.txt"; echo "corrupt.png 1"; } >"$WORK/corrupt.txt"
# Instance sampling with batches that divide the list: every image is read.
expect_fail 1 "corrupt\.png.*line 21" "$X" -- \
    lt-train --train-list "$WORK/corrupt.txt" --root "$D" "${NET[@]}" --batch-size 7 --sampler instance -q -o "$X"
# A JPEG cut to half its bytes: libjpeg would fill the rest with grey.
head -c $(($(stat -c %s "$LT_SRC/tests/data/photo.jpg") / 2)) "$LT_SRC/tests/data/photo.jpg" >"$D/half.jpg"
{ cat "$WORK/part.txt"; echo "half.jpg 1"; } >"$WORK/half.txt"
expect_fail 1 "cannot decode image '.*half\.jpg': broken JPEG: Premature end of JPEG file \(.*half\.txt line 21\)" "$X" -- \
    lt-train --train-list "$WORK/half.txt" --root "$D" "${NET[@]}" --batch-size 7 --sampler instance -q -o "$X"
# Training needs a label on every line, validation too.
{ cat "$WORK/part.txt"; echo "train/0/unlabelled.png"; } >"$WORK/unlabelled.txt"
expect_fail 1 "unlabelled\.txt line 21: 'train/0/unlabelled\.png' has no label" "$X" -- \
    lt-train --train-list "$WORK/unlabelled.txt" "${T[@]}" --batch-size 4 -o "$X"
expect_fail 1 "unlabelled\.txt line 21: .* has no label" "$X" -- \
    lt-train --train-list "$WORK/part.txt" --val-list "$WORK/unlabelled.txt" "${T[@]}" --batch-size 4 -o "$X"
{ cat "$WORK/part.txt"; echo "train/0/x.png 1"; } >"$WORK/val-missing.txt"
expect_fail 1 "x\.png" "$X" -- lt-train --train-list "$WORK/part.txt" --val-list "$WORK/val-missing.txt" "${T[@]}" --batch-size 4 -o "$X"
: >"$WORK/empty.txt"
expect_fail 1 "empty\.txt" "$X" -- lt-train --train-list "$WORK/empty.txt" "${T[@]}" --batch-size 4 -o "$X"
{ cat "$WORK/part.txt"; echo "train/0/a.png one"; } >"$WORK/label.txt"
expect_fail 1 "label\.txt.*line 21" "$X" -- lt-train --train-list "$WORK/label.txt" "${T[@]}" --batch-size 4 -o "$X"
expect_fail 1 "cannot read list .*nope\.txt" "$X" -- lt-train --train-list "$WORK/nope.txt" "${T[@]}" --batch-size 4 -o "$X"
expect_fail 1 "batch size 32 is larger than the 20 training images" "$X" -- \
    lt-train --train-list "$WORK/part.txt" "${T[@]}" --batch-size 32 -o "$X"
expect_fail 2 "--arch" "$X" -- lt-train --train-list "$D/train.txt" "${T[@]}" --batch-size 4 --arch resnet7 -o "$X"
expect_fail 2 "--batch-size" "$X" -- lt-train --train-list "$D/train.txt" "${T[@]}" --batch-size 0 -o "$X"
expect_fail 2 "unknown sampler 'often'" "$X" -- lt-train --train-list "$D/train.txt" "${T[@]}" --batch-size 4 --sampler often -o "$X"
expect_fail 2 "--loss" "$X" -- lt-train --train-list "$D/train.txt" "${T[@]}" --batch-size 4 --loss focal -o "$X"
expect_fail 2 "lists must be files, not '-'" "$X" -- lt-train --train-list - "${T[@]}" --batch-size 4 -o "$X"
expect_fail 2 "-o must be a file" -- lt-train --train-list "$D/train.txt" "${T[@]}" --batch-size 4 -o -
expect_fail 2 "--train-list is required" "$X" -- lt-train --root "$D" -o "$X"
if ! lt-train --train-list "$WORK/part.txt" "${T[@]}" --batch-size 4 -o "$X" --device cuda -q 2>/dev/null; then
    expect_fail 1 "CPU-only LibTorch" "$X" -- lt-train --train-list "$WORK/part.txt" "${T[@]}" --batch-size 4 -o "$X" --device cuda
fi
# Values the parser would take but no run can use.
S=(--train-list "$WORK/part.txt" --root "$D" --arch resnet20 --preset small --threads 1 --workers 1 --epochs 1 -q)
expect_fail 2 "--seed: must be an integer from 0 to 9223372036854775807, got -1" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --seed -1 -o "$X"
expect_fail 2 "--seed: must be an integer" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --seed 99999999999999999999 -o "$X"
expect_fail 2 "--image-size: must be 0 \(the default\) or 8 to 4096, got 4" "$X" -- \
    lt-train "${S[@]}" --image-size 4 --batch-size 4 -o "$X"
expect_fail 2 "--image-size: must be 0 \(the default\) or 8 to 4096, got 20000" "$X" -- \
    lt-train "${S[@]}" --image-size 20000 --batch-size 4 -o "$X"
expect_fail 2 "--lr: 'inf' is not a finite number" "$X" -- lt-train "${S[@]}" --image-size 16 --batch-size 4 --lr inf -o "$X"
# A misspelt recipe key is refused, not ignored.
printf 'epoch = 1\n' >"$WORK/typo.ini"
expect_fail 2 "--config: 'epoch' is not an option of lt-train" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --config "$WORK/typo.ini" -o "$X"
# Outputs: not the train list, not the log.
cp "$WORK/part.txt" "$WORK/own.txt"
expect_fail 2 "own.txt is an input of this run" -- \
    lt-train --train-list "$WORK/own.txt" --root "$D" "${NET[@]}" --batch-size 4 --epochs 1 -q -o "$WORK/own.txt"
cmp -s "$WORK/own.txt" "$WORK/part.txt" || fail "lt-train replaced its train list"
expect_fail 2 "-o and --log name the same file" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --log "$X" -o "$X"
# --log never replaces an input either: the list, the recipe, --init, an image.
cp "$WORK/part.txt" "$WORK/own-log.txt"
expect_fail 2 "own-log\.txt is an input of this run" "$X" -- \
    lt-train --train-list "$WORK/own-log.txt" "${T[@]}" --batch-size 4 -o "$X" --log "$WORK/own-log.txt"
cmp -s "$WORK/own-log.txt" "$WORK/part.txt" || fail "lt-train --log replaced its train list"
printf 'epochs = 1\n' >"$WORK/epochs.ini"
cp "$WORK/epochs.ini" "$WORK/epochs-kept.ini"
expect_fail 2 "epochs\.ini is an input of this run" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --config "$WORK/epochs.ini" --log "$WORK/epochs.ini" -o "$X"
expect_fail 2 "epochs\.ini is an input of this run" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --config "$WORK/epochs.ini" -o "$WORK/epochs.ini"
cmp -s "$WORK/epochs.ini" "$WORK/epochs-kept.ini" || fail "lt-train replaced its recipe"
cp "$WORK/one.h5" "$WORK/init-copy.h5"
expect_fail 2 "init-copy\.h5 is an input of this run" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --batch-size 4 --init "$WORK/init-copy.h5" --log "$WORK/init-copy.h5" -o "$X"
cmp -s "$WORK/one.h5" "$WORK/init-copy.h5" || fail "lt-train --log replaced its --init"
image=$D/$(head -1 "$WORK/part.txt" | cut -d' ' -f1)
cp "$image" "$WORK/image-kept.png"
for output in "-o $image" "-o $X --log $image"; do
    # shellcheck disable=SC2086  # two words each
    expect_fail 2 "$image is image '$image' of .*part\.txt \(line 1\); an output may not replace an input" "$X" -- \
        lt-train "${S[@]}" --image-size 16 --batch-size 4 $output
    cmp -s "$image" "$WORK/image-kept.png" || fail "lt-train $output replaced an image of its list"
done
# A run that fails before its first epoch ends leaves an earlier log as it was.
echo '{"epoch": 1}' >"$WORK/old.jsonl"
cp "$WORK/old.jsonl" "$WORK/old-kept.jsonl"
expect_fail 1 "corrupt\.png.*line 21" "$X" -- lt-train --train-list "$WORK/corrupt.txt" --root "$D" "${NET[@]}" \
    --batch-size 7 --sampler instance -q -o "$X" --log "$WORK/old.jsonl"
cmp -s "$WORK/old.jsonl" "$WORK/old-kept.jsonl" || fail "a failed run emptied the earlier --log"
# A contrastive micro-batch of one image has no negative: its loss is 0.
expect_fail 2 "--loss simclr needs 2 or more images per micro-batch; --batch-size 4 over 1 process and 4 micro-batches leaves 1" "$X" -- \
    lt-train "${S[@]}" --image-size 16 --loss simclr --batch-size 4 --micro-batches 4 -o "$X"
rm -f "$X"

section "edge cases that train: one class, a warm-up beyond 64 bits of steps, --init on --resume, a falling scale"
# A rate this high for batches of 2 drove the cosine scale negative, and the
# epoch ended in an internal error (no model file may have such a scale).
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/held.h5" "${NET[@]}" --batch-size 2 --lr 1 \
    --epochs 1 -q
expect_grep "^lt-train: warning: epoch 1, step [0-9]+: a step took the cosine classifier's scale below 0\.01, where it is held \(the learning rate [0-9.]+ may be too high for batches of 2\)$" "$LT_STDERR"
expect_lines "$LT_STDERR" 1
/usr/bin/python3 -c 'import sys, h5py; s = h5py.File(sys.argv[1])["classifier"].attrs["scale"]; assert s >= 0.0099, s' \
    "$WORK/held.h5" || fail "the held scale"
grep ' 0$' "$D/train.txt" >"$WORK/one-class.txt"
expect_logged lt-train --train-list "$WORK/one-class.txt" --root "$D" -o "$WORK/one-class.h5" "${NET[@]}" --batch-size 8 \
    --epochs 1 -q
expect_grep "^lt-train: warning: .*one-class\.txt has one class \(0\): a softmax over one class has loss 0, so nothing is learnt$" "$LT_STDERR"
expect_lines "$LT_STDERR" 1
# llround of a warm-up of 1e30 epochs of steps overflowed into no warm-up at all (lr 0.05).
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/warm.h5" "${FAST[@]}" --epochs 1 -q \
    --warmup-epochs 1e30 --log "$WORK/warm.jsonl"
/usr/bin/python3 -c 'import json, sys; lr = json.loads(open(sys.argv[1]).read())["lr"]; assert 0 < lr < 1e-12, lr' \
    "$WORK/warm.jsonl" || fail "a warm-up of 1e30 epochs: the rate is not ~0"
# The resumed run's weights come from its checkpoint, not from --init, and
# the file goes on naming what it started from.
cp "$WORK/one.h5" "$WORK/resumed.h5"
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/resumed.h5" "${FAST[@]}" --epochs 2 -q \
    --resume --init "$WORK/init-copy.h5"
expect_grep "^lt-train: warning: --init .*init-copy\.h5 is not used: the run resumes from .*resumed\.h5, whose weights started from its seed$" "$LT_STDERR"
/usr/bin/python3 -c 'import sys, h5py; f = h5py.File(sys.argv[1]); assert "init" not in f.attrs and f.attrs["epoch"] == 2' \
    "$WORK/resumed.h5" || fail "the resumed model records an --init it did not use"

echo "lt-train: all checks passed"

# lt-train --loss simclr on Fashion-MNIST: a list of paths without labels
# (lt-data fashion-mnist --unlabelled), the contrastive loss falls, the
# backbone's features beat those of its random initialisation by
# nearest-class-mean accuracy (lt-protos + lt-eval), the model file serves
# lt-extract --model, lt-train --init and lt-info, same-seed equality,
# --resume, --micro-batches,
# and the usage errors.
source "$(dirname "$0")/../lib/cli.sh"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/train-images-idx3-ubyte.gz" ] || { echo "SKIP: $FM is missing (apt-get install dataset-fashion-mnist)"; exit 77; }

section "lt-data fashion-mnist --unlabelled: train and val untouched, paths only, none of them used"
D=$WORK/fm
expect_logged lt-data fashion-mnist -o "$D" --seed 0 --n-max 200 --n-min 10 --val-per-class 10 --unlabelled 1000
expect_grep "unlabelled: 1000 images" "$LT_STDERR"
expect_lines "$D/unlabelled.txt" 1000
awk 'NF != 1 {exit 1}' "$D/unlabelled.txt" || fail "unlabelled.txt has labels"
[ -z "$(sort "$D/unlabelled.txt" | comm -12 - <(cut -d' ' -f1 "$D/train.txt" "$D/val.txt" | sort))" ] ||
    fail "unlabelled.txt shares images with train or val"
expect_ok lt-data fashion-mnist -q -o "$WORK/fm-plain" --seed 0 --n-max 200 --n-min 10 --val-per-class 10
cmp -s "$D/train.txt" "$WORK/fm-plain/train.txt" && cmp -s "$D/val.txt" "$WORK/fm-plain/val.txt" ||
    fail "--unlabelled changed train or val"
[ -e "$WORK/fm-plain/unlabelled.txt" ] && fail "unlabelled.txt without --unlabelled"
expect_fail 2 "more than the" -- lt-data fashion-mnist -o "$WORK/fm-big" --unlabelled 70000

# 28-px images, a CIFAR ResNet-20, 2 threads (the results are reproducible
# for a fixed thread count).
NET=(--arch resnet20 --preset small --image-size 28 --threads 2 --workers 2 --seed 0)
SIMCLR=(--loss simclr --batch-size 64 --momentum 0.9)  # --temperature: the default, 0.5
RATES=(--lr 0.3 --weight-decay 1e-4)

section "SimCLR: 4 epochs on 1000 unlabelled images; the loss falls"
expect_logged lt-train --train-list "$D/unlabelled.txt" --root "$D" -o "$WORK/simclr.h5" "${NET[@]}" "${SIMCLR[@]}" \
    "${RATES[@]}" --epochs 4 --log "$WORK/simclr.jsonl"
expect_grep "labels ignored \(--loss simclr: two views each, temperature 0.5\)" "$LT_STDERR"
expect_lines "$WORK/simclr.jsonl" 4
/usr/bin/python3 - "$WORK/simclr.h5" "$WORK/simclr.jsonl" <<'PY' || fail "SimCLR model file or log"
import json, math, sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["lt_type"] == "model" and f.attrs["loss"] == "simclr" and f.attrs["temperature"] == 0.5, dict(f.attrs)
assert f.attrs["sampler"] == "instance" and f.attrs["head"] == "projection"
assert "classifier" not in f, "a contrastive model has no classifier"
p = f["projection"]
assert sorted(p) == ["0.bias", "0.weight", "2.bias", "2.weight"], sorted(p)
assert p["0.weight"].shape == (64, 64) and p["2.weight"].shape == (128, 64)
assert set(f["train_state/momentum"]) >= {"projection.0.weight", "backbone.conv1.weight"}
losses = [json.loads(l)["loss"] for l in open(sys.argv[2])]
# NT-Xent over 2 x 64 views starts near log(127) = 4.84 and must fall.
assert 3.5 < losses[0] < 6, losses
assert losses[-1] < losses[0] - 0.2, losses
print("contrastive loss per epoch:", " ".join("%.3f" % l for l in losses))
PY

expect_ok lt-info --json "$WORK/simclr.h5"
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["type"] == "model" and d["projection"]["tensors"] == 4 and "classifier" not in d, d' \
    "$LT_STDOUT" || fail "lt-info of a SimCLR model: $(cat "$LT_STDOUT")"

section "its features beat the random initialisation's by nearest-class-mean accuracy"
# The random initialisation: the same seed's weights, left unchanged (lr 0,
# no weight decay), BatchNorm statistics from an epoch of the same images.
expect_ok lt-train -q --train-list "$D/unlabelled.txt" --root "$D" -o "$WORK/random.h5" "${NET[@]}" "${SIMCLR[@]}" \
    --epochs 1 --lr 0 --weight-decay 0
head -n 2000 "$D/test.txt" >"$WORK/test.txt"
ncm() {
    lt-extract -q --model "$WORK/$1.h5" --list "$D/train.txt" --root "$D" --threads 2 -o "$WORK/$1-train.h5"
    lt-extract -q --model "$WORK/$1.h5" --list "$WORK/test.txt" --root "$D" --threads 2 -o "$WORK/$1-test.h5"
    lt-protos -q "$WORK/$1-train.h5" -o "$WORK/$1-protos.h5"
    lt-eval "$WORK/$1-test.h5" "$WORK/$1-protos.h5" --format tsv | tail -n 1 | cut -f5
}
simclr=$(ncm simclr) || fail "NCM of the SimCLR features"
random=$(ncm random) || fail "NCM of the random features"
echo "NCM total accuracy on 2000 test images: SimCLR $simclr, random initialisation $random"
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) + 2 else 1)" "$simclr" "$random" ||
    fail "SimCLR features ($simclr) do not beat random ones ($random) by 2 points"

section "the SimCLR backbone as --init of a supervised run"
expect_logged lt-train --train-list "$D/train.txt" --root "$D" -o "$WORK/supervised.h5" "${NET[@]}" \
    --batch-size 64 --epochs 1 --init "$WORK/simclr.h5"
expect_grep "^lt-train: --init .*simclr.h5: " "$LT_STDERR"
grep -q "warning" "$LT_STDERR" && fail "--init from a SimCLR model: $(grep warning "$LT_STDERR")"

section "the same seed gives the same model; --resume continues; --micro-batches runs"
head -n 128 "$D/unlabelled.txt" >"$WORK/few.txt"
SMALL=(--train-list "$WORK/few.txt" --root "$D" "${NET[@]}" "${SIMCLR[@]}" "${RATES[@]}" -q)
export LT_PROVENANCE=fixed
expect_ok lt-train "${SMALL[@]}" --epochs 2 -o "$WORK/straight.h5"
expect_ok lt-train "${SMALL[@]}" --epochs 2 -o "$WORK/again.h5"
/usr/bin/python3 "$LT_SRC/tests/lib/same_h5.py" "$WORK/straight.h5" "$WORK/again.h5" ||
    fail "two SimCLR runs of the same seed differ"
expect_ok lt-train "${SMALL[@]}" --epochs 1 -o "$WORK/resumed.h5"
expect_ok lt-train "${SMALL[@]}" --epochs 2 -o "$WORK/resumed.h5" --resume
/usr/bin/python3 -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r"); assert f.attrs["epoch"] == 2 and f["train_state"].attrs["step"] == 4' \
    "$WORK/resumed.h5" || fail "--resume did not continue the SimCLR run to epoch 2"
expect_ok lt-train "${SMALL[@]}" --epochs 1 --micro-batches 2 -o "$WORK/micro.h5"
expect_fail 2 "cannot resume .*temperature" -- lt-train "${SMALL[@]}" --epochs 3 -o "$WORK/resumed.h5" --resume \
    --temperature 0.2

section "usage"
expect_fail 2 "--val-list needs a classifier" "$WORK/bad.h5" -- \
    lt-train "${SMALL[@]}" --epochs 1 --val-list "$D/val.txt" -o "$WORK/bad.h5"
expect_fail 1 "has no label .*--loss simclr" "$WORK/bad.h5" -- \
    lt-train --train-list "$WORK/few.txt" --root "$D" "${NET[@]}" --epochs 1 -o "$WORK/bad.h5"
expect_fail 2 "temperature" "$WORK/bad.h5" -- lt-train "${SMALL[@]}" --epochs 1 --temperature 0 -o "$WORK/bad.h5"
echo "ok"

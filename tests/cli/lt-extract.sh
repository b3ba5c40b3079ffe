# lt-extract: features file layout, agreement with lt-train's validation,
# --arch/--init, stdout, shards and their merge, and bad input: exit 1 (2 for
# usage), one error line, no output left.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"

make_tiny_images "$WORK/fm" 40 4 5 23
D=$WORK/fm
expect_ok lt-train -q --train-list "$D/train.txt" --val-list "$D/val.txt" --root "$D" -o "$WORK/model.h5" \
    --arch resnet20 --preset small --image-size 16 --batch-size 16 --lr 0.05 --epochs 2 --threads 1 \
    --log "$WORK/train.jsonl"
E=(--model "$WORK/model.h5" --threads 1 --workers 1)

# Compares two features files: features (to tolerance), labels, ids, split.
cat >"$WORK/same_features.py" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["features"].shape == b["features"].shape, (a["features"].shape, b["features"].shape)
assert np.allclose(a["features"][()], b["features"][()], rtol=1e-5, atol=1e-6), \
    np.abs(a["features"][()] - b["features"][()]).max()
assert np.array_equal(a["labels"][()], b["labels"][()])
assert list(a["ids"][()]) == list(b["ids"][()])
for key in ("split", "list_hash", "weights_hash", "list_rows"):
    assert a.attrs[key] == b.attrs[key], key
PY
same_features() { /usr/bin/python3 "$WORK/same_features.py" "$1" "$2" || fail "$1 and $2 differ"; }

section "features of a list: [N, 64] float32, labels and ids from the list, split from its name"
expect_ok lt-extract -q "${E[@]}" --list "$D/val.txt" --root "$D" -o "$WORK/val.h5"
/usr/bin/python3 - "$WORK/val.h5" "$D/val.txt" <<'PY' || fail "features file layout"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
lines = [l.split() for l in open(sys.argv[2])]
assert f.attrs["lt_type"] == "features" and f.attrs["split"] == "val"
assert f["features"].shape == (len(lines), 64) and f["features"].dtype == np.float32
assert np.isfinite(f["features"][()]).all() and (f["features"][()] >= 0).all()  # pooled ReLU outputs
assert list(f["labels"][()]) == [int(l[1]) for l in lines]
assert [i.decode() for i in f["ids"][()]] == [l[0] for l in lines]
assert f.attrs["arch"] == "resnet20" and f.attrs["preset"] == "small" and f.attrs["image_size"] == 16
PY

section "the model's classifier on extracted features scores what lt-train's validation measured"
expect_ok lt-eval "$WORK/val.h5" "$WORK/model.h5" --format json
/usr/bin/python3 - "$LT_STDOUT" "$WORK/train.jsonl" <<'PY' || fail "lt-eval and lt-train's validation disagree"
import json, sys
evaluated = json.load(open(sys.argv[1]))
evaluated = evaluated[0] if isinstance(evaluated, list) else evaluated.get("results", [evaluated])[0]
trained = [json.loads(l) for l in open(sys.argv[2])][-1]
for key in ("total", "many", "medium", "few"):
    mine = trained["val_top1" if key == "total" else "val_" + key]
    theirs = evaluated[key]
    assert (theirs is None and mine is None) or abs(theirs - mine) < 1e-6, (key, theirs, mine)
PY

section "stdout into lt-protos; --arch with --init gives the same features as --model"
lt-extract -q "${E[@]}" --list "$D/train.txt" --root "$D" -o - | lt-protos -q - -o "$WORK/protos-pipe.h5" ||
    fail "extract | protos pipe"
expect_ok lt-extract -q "${E[@]}" --list "$D/train.txt" --root "$D" -o "$WORK/train.h5"
expect_ok lt-protos -q "$WORK/train.h5" -o "$WORK/protos.h5"
/usr/bin/python3 -c '
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["prototypes"][()], b["prototypes"][()])' "$WORK/protos-pipe.h5" "$WORK/protos.h5" ||
    fail "prototypes from the pipe differ"
expect_ok lt-extract -q --arch resnet20 --init "$WORK/model.h5" --preset small --image-size 16 --threads 1 \
    --list "$D/train.txt" --root "$D" -o "$WORK/train-init.h5"
same_features "$WORK/train.h5" "$WORK/train-init.h5"

section "three shards, merged in any order, equal the unsharded file"
for i in 1 2 3; do
    expect_ok lt-extract -q "${E[@]}" --list "$D/test.txt" --root "$D" --shard "$i/3" --batch-size 5 -o "$WORK/test-$i.h5"
done
expect_equal "$(/usr/bin/python3 -c 'import sys,h5py; print(*(h5py.File(f)["features"].shape[0] for f in sys.argv[1:]))' \
    "$WORK"/test-[123].h5)" "7 8 8" "rows of the shards of 23 images"
expect_ok lt-extract -q "${E[@]}" --list "$D/test.txt" --root "$D" -o "$WORK/test.h5"
expect_ok lt-extract -q --merge "$WORK/test-3.h5" "$WORK/test-1.h5" "$WORK/test-2.h5" -o "$WORK/merged.h5"
same_features "$WORK/test.h5" "$WORK/merged.h5"
/usr/bin/python3 -c 'import sys, h5py; assert "shard_index" not in h5py.File(sys.argv[1]).attrs' "$WORK/merged.h5" ||
    fail "the merged file still says it is a shard"
expect_fail 1 "shard 2 of 3 is missing" "$WORK/x.h5" -- \
    lt-extract --merge "$WORK/test-1.h5" "$WORK/test-3.h5" -o "$WORK/x.h5"
expect_fail 1 "shard 1/3 is given twice" "$WORK/x.h5" -- \
    lt-extract --merge "$WORK/test-1.h5" "$WORK/test-1.h5" "$WORK/test-3.h5" -o "$WORK/x.h5"
expect_ok lt-extract -q "${E[@]}" --list "$D/val.txt" --root "$D" --shard 2/3 -o "$WORK/val-2.h5"
expect_fail 1 "shards of different extractions" "$WORK/x.h5" -- \
    lt-extract --merge "$WORK/test-1.h5" "$WORK/val-2.h5" "$WORK/test-3.h5" -o "$WORK/x.h5"
expect_fail 1 "val\.h5 is not a shard" "$WORK/x.h5" -- lt-extract --merge "$WORK/val.h5" -o "$WORK/x.h5"
expect_fail 1 "shards 2, 3 of 3 are missing" "$WORK/x.h5" -- lt-extract --merge "$WORK/test-1.h5" -o "$WORK/x.h5"
# Shard attributes no --shard writes: a count of 0 divided by zero.
for bad in "shard_count=0" "shard_index=0" "shard_index=4" "shard_count=100"; do
    cp "$WORK/test-1.h5" "$WORK/bad-shard.h5"
    /usr/bin/python3 -c 'import sys, h5py, numpy as np
k, v = sys.argv[2].split("=")
with h5py.File(sys.argv[1], "a") as f: f.attrs[k] = np.int64(v)' "$WORK/bad-shard.h5" "$bad"
    expect_fail 1 "bad-shard\.h5: shard -?[0-9]+/-?[0-9]+ of a list of 23 rows is not one lt-extract writes" "$WORK/x.h5" -- \
        lt-extract --merge "$WORK/bad-shard.h5" -o "$WORK/x.h5"
done

section "a list with CRLF line ends, tabs and spaces in paths gives the same features"
mkdir -p "$D/with space"
head -3 "$D/val.txt" >"$WORK/plain.txt"
: >"$WORK/crlf.txt"
n=0
while read -r path label; do
    n=$((n + 1)); cp "$D/$path" "$D/with space/image $n.png"
    printf 'with space/image %d.png\t %s\r\n\r\n' "$n" "$label" >>"$WORK/crlf.txt"
done <"$WORK/plain.txt"
expect_ok lt-extract -q "${E[@]}" --list "$WORK/plain.txt" --root "$D" -o "$WORK/plain.h5"
expect_ok lt-extract -q "${E[@]}" --list "$WORK/crlf.txt" --root "$D" -o "$WORK/crlf.h5"
/usr/bin/python3 - "$WORK/plain.h5" "$WORK/crlf.h5" <<'PY' || fail "CRLF list with spaces"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert np.array_equal(a["features"][()], b["features"][()]) and np.array_equal(a["labels"][()], b["labels"][()])
assert [i.decode() for i in b["ids"][()]] == ["with space/image %d.png" % n for n in (1, 2, 3)], b["ids"][()]
PY

section "lines with only a path: rows with label -1 (inference); lt-protos skips them"
cp "$LT_SRC/tests/data/photo.jpg" "$D/photo.jpg"
{ head -3 "$D/val.txt"; echo "photo.jpg"; echo "# a comment"; echo; head -1 "$D/val.txt" | cut -d' ' -f1; } >"$WORK/infer.txt"
expect_ok lt-extract -q "${E[@]}" --list "$WORK/infer.txt" --root "$D" -o "$WORK/infer.h5"
/usr/bin/python3 - "$WORK/infer.h5" "$WORK/val.h5" "$D/val.txt" <<'PY' || fail "unlabelled rows"
import sys, h5py, numpy as np
f, val = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
first = [l.split() for l in open(sys.argv[3])][:3]
assert list(f["labels"][()]) == [int(l[1]) for l in first] + [-1, -1], f["labels"][()]
assert [i.decode() for i in f["ids"][()]] == [l[0] for l in first] + ["photo.jpg", first[0][0]]
# the same image gives the same row, labelled or not
assert np.allclose(f["features"][:3], val["features"][:3], atol=1e-6)
assert np.allclose(f["features"][4], val["features"][0], atol=1e-6)
PY
expect_ok lt-protos -q "$WORK/infer.h5" -o "$WORK/infer-protos.h5"
expect_equal "$(lt-info --class-counts "$WORK/infer-protos.h5" | tail -n +2 | awk '{s += $2} END {print s}')" 3 \
    "rows averaged into the prototypes (the labelled ones)"

section "off a terminal, a progress line every --progress-interval seconds"
lt-extract "${E[@]}" --list "$D/test.txt" --root "$D" --batch-size 1 --progress-interval 0.01 -o "$WORK/progress.h5" \
    2>"$WORK/progress.err" || fail "lt-extract --progress-interval 0.01"
expect_grep '^lt-extract: features: [0-9]+/23 \([0-9]+%\) after [0-9]+s, [0-9.]+ images/s' "$WORK/progress.err"
lt-extract "${E[@]}" --list "$D/test.txt" --root "$D" --batch-size 1 -o "$WORK/progress.h5" 2>"$WORK/progress.err" ||
    fail "lt-extract"
! grep -q '^lt-extract: features: ' "$WORK/progress.err" || fail "progress lines of a short run with the 30 s default"

section "bad input: exit 1 (2 for usage), one error line, no output"
X=$WORK/x.h5
L=(--root "$D" "${E[@]}")
head -5 "$D/val.txt" >"$WORK/part.txt"
for shard in 3/2 0/0 0/3 x 1/ /2 -1/2 1/2/3; do
    expect_fail 2 "--shard: invalid shard '$shard'" "$X" -- lt-extract --list "$D/val.txt" "${L[@]}" --shard "$shard" -o "$X"
done
expect_fail 1 "shard 1/6 of the 5 images .* is empty" "$X" -- lt-extract --list "$WORK/part.txt" "${L[@]}" --shard 1/6 -o "$X"
expect_fail 2 "--batch-size" "$X" -- lt-extract --list "$D/val.txt" "${L[@]}" --batch-size 0 -o "$X"
expect_fail 2 "--arch" "$X" -- lt-extract --arch resnet7 --init "$WORK/model.h5" --list "$D/val.txt" --root "$D" -o "$X"
expect_fail 2 "--arch requires --init" "$X" -- lt-extract --arch resnet20 --list "$D/val.txt" --root "$D" -o "$X"
expect_fail 2 "no backbone: give --model" "$X" -- lt-extract --list "$D/val.txt" --root "$D" -o "$X"
expect_fail 2 "--list excludes --merge" "$X" -- lt-extract --merge "$WORK/test-1.h5" --list "$D/val.txt" -o "$X"
expect_fail 2 "--list is required" "$X" -- lt-extract --model "$WORK/model.h5" --root "$D" -o "$X"
{ cat "$WORK/part.txt"; echo "train/0/missing.png 0"; } >"$WORK/missing.txt"
expect_fail 1 "missing\.png.*line 6" "$X" -- lt-extract --list "$WORK/missing.txt" "${L[@]}" -o "$X"
cp "$D/$(head -1 "$D/val.txt" | cut -d' ' -f1)" "$D/corrupt.png"
printf 'garbage' | dd of="$D/corrupt.png" bs=1 seek=40 conv=notrunc 2>/dev/null
{ cat "$WORK/part.txt"; echo "corrupt.png 1"; } >"$WORK/corrupt.txt"
expect_fail 1 "corrupt\.png" "$X" -- lt-extract --list "$WORK/corrupt.txt" "${L[@]}" -o "$X"
head -c $(($(stat -c %s "$D/photo.jpg") / 2)) "$D/photo.jpg" >"$D/half.jpg"
{ cat "$WORK/part.txt"; echo "half.jpg"; } >"$WORK/half.txt"
expect_fail 1 "cannot decode image '.*half\.jpg': broken JPEG: Premature end of JPEG file \(.*half\.txt line 6\) \(hint: lt-data check" \
    "$X" -- lt-extract --list "$WORK/half.txt" "${L[@]}" -o "$X"
: >"$WORK/empty.txt"
expect_fail 1 "empty\.txt" "$X" -- lt-extract --list "$WORK/empty.txt" "${L[@]}" -o "$X"
{ cat "$WORK/part.txt"; echo "train/0/a.png 1.5"; } >"$WORK/label.txt"
expect_fail 1 "label\.txt.*line 6" "$X" -- lt-extract --list "$WORK/label.txt" "${L[@]}" -o "$X"
expect_fail 1 "cannot open .*nope\.h5" "$X" -- lt-extract --model "$WORK/nope.h5" --list "$D/val.txt" --root "$D" -o "$X"
expect_fail 1 "val\.h5 is a 'features' file, expected model" "$X" -- \
    lt-extract --model "$WORK/val.h5" --list "$D/val.txt" --root "$D" -o "$X"
/usr/bin/python3 -c '
import sys, h5py
src, out = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "w")
for key, value in src["backbone"].items():
    if key != "layer2.1.conv1.weight": out[key] = value[()]' "$WORK/model.h5" "$WORK/partial.h5"
expect_fail 1 "partial\.h5 lacks 1 of the 126 weights of resnet20 \(e\.g\. layer2\.1\.conv1\.weight\)" "$X" -- \
    lt-extract --arch resnet20 --init "$WORK/partial.h5" --list "$D/val.txt" --root "$D" -o "$X"
if ! lt-extract --list "$WORK/part.txt" "${L[@]}" -o "$X" --device cuda -q 2>/dev/null; then
    expect_fail 1 "CPU-only LibTorch" "$X" -- lt-extract --list "$WORK/part.txt" "${L[@]}" -o "$X" --device cuda
fi
mkdir -p "$D/folder.png"
{ cat "$WORK/part.txt"; echo "folder.png 1"; } >"$WORK/dir.txt"
expect_fail 1 "cannot read image '.*folder\.png': is a directory \(.*dir\.txt line 6\)" "$X" -- \
    lt-extract --list "$WORK/dir.txt" "${L[@]}" -o "$X"
expect_fail 2 "--image-size: must be 0 \(the default\) or 8 to 4096, got 100000" "$X" -- \
    lt-extract --list "$WORK/part.txt" --root "$D" --model "$WORK/model.h5" --image-size 100000 -o "$X"
cp "$WORK/model.h5" "$WORK/own-model.h5"
expect_fail 2 "own-model\.h5 is an input of this run" -- \
    lt-extract --list "$WORK/part.txt" --root "$D" --model "$WORK/own-model.h5" -o "$WORK/own-model.h5"
cmp -s "$WORK/model.h5" "$WORK/own-model.h5" || fail "lt-extract replaced its model"
image=$D/$(sed -n 3p "$WORK/part.txt" | cut -d' ' -f1)
cp "$image" "$WORK/image-kept.png"
expect_fail 2 "$image is image '$image' of .*part\.txt \(line 3\); an output may not replace an input" -- \
    lt-extract --list "$WORK/part.txt" "${L[@]}" -o "$image"
cmp -s "$image" "$WORK/image-kept.png" || fail "lt-extract replaced an image of its list"
# Standard input feeds one input only: the model's bytes are no list.
expect_fail 2 "--list and --model cannot both be read from stdin" "$X" -- \
    lt-extract --list - --root "$D" --model - --threads 1 -o "$X" <"$WORK/model.h5"
# Two shards from stdin: the first reads it all, the second is refused
# before it reads (it said "standard input is empty").
expect_fail 2 "'-' names two inputs \(an lt-h5 file twice\): standard input can be read only once" "$X" -- \
    lt-extract --merge - - -o "$X" <"$WORK/test-1.h5"
# The model file's own settings are checked, and named as the file's; a NaN
# weight or BatchNorm statistic made every feature NaN, with exit 0.
model_with() {  # model_with NAME PYTHON-STATEMENTS (on f, the copy)
    cp "$WORK/model.h5" "$WORK/$1.h5"
    /usr/bin/python3 -c "import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'a') as f: $2" "$WORK/$1.h5" || fail "writing $1.h5"
}
while IFS='|' read -r name change pattern; do
    model_with "$name" "$change"
    expect_fail 1 "$name\\.h5$pattern" "$X" -- \
        lt-extract --list "$WORK/part.txt" --root "$D" --model "$WORK/$name.h5" -o "$X"
done <<'CASES'
big-side|f.attrs["image_size"] = np.int64(100000)|: image_size 100000 is not 0 or 8 to 4096
odd-arch|f.attrs["arch"] = "resnet7"|: arch 'resnet7' is not an architecture lt knows \(resnet
odd-preset|f.attrs["preset"] = "foo"|: preset 'foo' is not a transform lt knows
nan-weight|w = f["backbone/conv1.weight"]; v = w[()]; v.flat[3] = np.nan; w[...] = v|:/backbone/conv1\.weight holds a non-finite value \(nan\) at element 3
CASES
model_with inf-var 'w = f["backbone/bn1.running_var"]; v = w[()]; v[0] = np.inf; w[...] = v'
expect_fail 1 "inf-var\.h5:/backbone/bn1\.running_var holds a non-finite value \(inf\) at element 0" "$X" -- \
    lt-extract --arch resnet20 --init "$WORK/inf-var.h5" --list "$WORK/part.txt" --root "$D" --preset small -o "$X"
rm -f "$X"
echo "lt-extract: all checks passed"

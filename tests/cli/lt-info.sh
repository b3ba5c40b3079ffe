#!/usr/bin/env bash
# lt-info: the description of every lt-h5 type (written by h5py, tests/ref/gen.py,
# and by the lt tools), its numbers against numpy (count summaries, shot
# groups, shapes), JSON and text, stdin, --class-counts; and broken or
# foreign files: exit 1 with one error line per bad file naming it, the good
# files still described.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
G=$WORK/gen B=$WORK/bad
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" >/dev/null || fail "gen.py data"
"$PY" "$LT_SRC/tests/ref/gen.py" bad "$B" >/dev/null || fail "gen.py bad"

section "lt tools' files: prototypes, a composed classifier, an ensemble"
expect_ok lt-protos -q "$G/train.h5" -o "$WORK/protos.h5"
expect_ok lt-attend -q --classifier "$G/model.h5" --protos "$WORK/protos.h5" -k 20 --tau 5 -o "$WORK/wh20.h5"
expect_ok lt-attend -q --classifier "$G/model.h5" --protos "$WORK/protos.h5" -k 0 -o "$WORK/wh0.h5"
expect_ok lt-ensemble -q "$WORK/wh0.h5" "$WORK/wh20.h5" -o "$WORK/ensemble.h5"
expect_ok lt-info --json "$G/train.h5" "$G/test.h5" "$G/train_foreign.h5" "$G/model.h5" "$G/clf.h5" \
    "$WORK/protos.h5" "$WORK/wh20.h5" "$WORK/ensemble.h5"
cp "$LT_STDOUT" "$WORK/info.jsonl"
expect_lines "$WORK/info.jsonl" 8

# The numbers, recomputed from the files with numpy.
"$PY" - "$WORK/info.jsonl" "$G" "$WORK" <<'PY' || fail "lt-info --json against numpy"
import json, sys, h5py, numpy as np
lines, G, W = sys.argv[1], sys.argv[2], sys.argv[3]
docs = [json.loads(l) for l in open(lines)]
by_file = {d["file"]: d for d in docs}

def summary(counts):
    counts = np.asarray(counts)
    groups = {"many": int((counts > 100).sum()), "medium": int(((counts >= 20) & (counts <= 100)).sum()),
              "few": int(((counts < 20) & (counts > 0)).sum())}
    return {"classes": len(counts), "samples": int(counts.sum()), "min": int(counts.min()),
            "median": float(np.median(counts)), "max": int(counts.max()), "groups": groups}

def check_summary(got, counts, what):
    want = summary(counts)
    for key in ("classes", "samples", "min", "max"):
        assert got[key] == want[key], (what, key, got[key], want[key])
    assert abs(got["median"] - want["median"]) < 1e-12, (what, got["median"], want["median"])
    for key, value in want["groups"].items():
        assert got["groups"][key] == value, (what, key, got["groups"], want["groups"])

for name in ("train.h5", "test.h5", "train_foreign.h5"):
    d, f = by_file[f"{G}/{name}"], h5py.File(f"{G}/{name}", "r")
    assert d["type"] == "features", d
    assert d["features"]["shape"] == list(f["features"].shape), d["features"]
    y = f["labels"][()]
    assert d["labels"]["unlabelled"] == int((y == -1).sum())
    ids, counts = np.unique(y[y >= 0], return_counts=True)
    assert d["labels"]["class_ids"] == {"min": int(ids.min()), "max": int(ids.max())}
    check_summary(d["labels"]["per_class"], counts, name)
assert by_file[f"{G}/train.h5"]["features"]["type"] == "float32"
assert by_file[f"{G}/train.h5"]["features"]["filters"] == ["deflate"]
assert by_file[f"{G}/test.h5"]["features"]["type"] == "float64" and "chunks" not in by_file[f"{G}/test.h5"]["features"]
assert by_file[f"{G}/train_foreign.h5"]["type_inferred"] is True
assert by_file[f"{G}/train_foreign.h5"]["schema_version"] is None
assert by_file[f"{G}/train_foreign.h5"]["provenance"] is None
assert by_file[f"{G}/train.h5"]["schema_version"] == 1

m, f = by_file[f"{G}/model.h5"], h5py.File(f"{G}/model.h5", "r")
assert m["type"] == "model" and m["arch"] == f.attrs["arch"]
assert m["classifier"]["scale"] == f["classifier"].attrs["scale"]
assert m["classifier"]["classes"] == f["classifier/weights"].shape[0]
check_summary(m["class_counts"], f["classifier/class_counts"][()], "model")

c, f = by_file[f"{G}/clf.h5"], h5py.File(f"{G}/clf.h5", "r")
assert c["classifier"]["kind"] == "cosine" and c["classifier"]["dim"] == f["weights"].shape[1]
check_summary(c["class_counts"], f["class_counts"][()], "clf")

p, f = by_file[f"{W}/protos.h5"], h5py.File(f"{W}/protos.h5", "r")
assert p["type"] == "prototypes" and p["provenance"]["tool"] == "lt-protos"
assert p["provenance"]["inputs"] == f"{G}/train.h5 (features)", p["provenance"]
check_summary(p["counts"], f["counts"][()], "protos")
wh = by_file[f"{W}/wh20.h5"]
assert wh["classifier"]["composition"] == {"mode": "p2w", "k": 20, "tau": 5, "terms": "kt,p,w"}, wh["classifier"]
e = by_file[f"{W}/ensemble.h5"]
assert e["rule"] == "mean-prob" and len(e["members"]) == 2
assert [x["composition"]["k"] for x in e["members"]] == [0, 20]
PY

section "text output, stdin, thresholds, --class-counts"
expect_ok lt-info "$WORK/protos.h5" "$G/train.h5"
expect_grep '^type: prototypes$' "$LT_STDOUT"
expect_grep '^  median: ' "$LT_STDOUT"
expect_equal "$(grep -c '^file: ' "$LT_STDOUT")" 2 "files described"
expect_equal "$(grep -c '^$' "$LT_STDOUT")" 1 "blank lines between files"
lt-protos -q "$G/train.h5" -o - | lt-info --json - >"$WORK/stdin.json" 2>"$WORK/stdin.err" || fail "lt-protos | lt-info -"
[[ ! -s $WORK/stdin.err ]] || fail "lt-info - wrote to stderr: $(cat "$WORK/stdin.err")"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["file"] == "<stdin>" and d["type"] == "prototypes", d' \
    "$WORK/stdin.json" || fail "lt-info - on a pipe"
expect_ok lt-info --json --many 50 --few 10 "$WORK/protos.h5"
"$PY" - "$LT_STDOUT" "$WORK/protos.h5" <<'PY' || fail "--many/--few"
import json, sys, h5py, numpy as np
d, n = json.load(open(sys.argv[1])), h5py.File(sys.argv[2], "r")["counts"][()]
assert d["counts"]["groups"]["many"] == int((n > 50).sum()) and d["counts"]["groups"]["few"] == int((n < 10).sum()), d
PY
expect_ok lt-info --class-counts "$G/train.h5"
"$PY" - "$LT_STDOUT" "$G/train.h5" <<'PY' || fail "--class-counts"
import sys, h5py, numpy as np
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
assert rows[0] == ["class_id", "count"], rows[0]
y = h5py.File(sys.argv[2], "r")["labels"][()]
ids, counts = np.unique(y[y >= 0], return_counts=True)
assert [(int(a), int(b)) for a, b in rows[1:]] == list(zip(ids.tolist(), counts.tolist()))
PY

section "--json parses whatever bytes names and attributes hold; text names infinities"
bad_name=$WORK/$(printf 'bad\xff.h5')
cp "$G/clf.h5" "$bad_name"
"$PY" - "$bad_name" <<'PY' || fail "writing attributes"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "a") as f:
    f.attrs["note"] = np.bytes_(b"\xff\xfe")       # not UTF-8
    f.attrs["cafe"] = "caf\u00e9 \u20ac"           # UTF-8, kept as it is
    f.attrs["up"] = np.float64(np.inf)
    f.attrs["down"] = np.float64(-np.inf)
    f.attrs["undefined"] = np.float64(np.nan)
PY
expect_ok lt-info --json "$bad_name"
"$PY" - "$LT_STDOUT" <<'PY' || fail "--json with bytes that are not UTF-8"
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict: the output is UTF-8
assert d["file"].endswith("bad\ufffd.h5"), d["file"]
a = d["attributes"]
assert a["note"] == "\ufffd\ufffd" and a["cafe"] == "caf\u00e9 \u20ac", a
assert a["up"] is None and a["down"] is None and a["undefined"] is None, a
PY
expect_ok lt-info "$bad_name"
expect_grep '^  up: inf$' "$LT_STDOUT"
expect_grep '^  down: -inf$' "$LT_STDOUT"
expect_grep '^  undefined: nan$' "$LT_STDOUT"

section "broken and foreign files: exit 1, one line each naming the file"
for f in "$B/not_hdf5.h5" "$B/no_schema.h5" "$B/type_banana.h5" "$B/feats_v2.h5" "$B/empty.h5" \
         "$B/feats_truncated.h5" "$B/clf_truncated.h5" "$B/feats_no_labels.h5" "$B/feats_short_labels.h5" \
         "$B/clf_short_counts.h5" "$B/clf_nan.h5" "$B/protos_zero_count.h5" "$B/clf_dup_ids.h5" \
         "$B/ens_other_ids.h5" "$B/feats_huge_claim.h5" "$WORK/does-not-exist.h5"; do
    expect_fail 1 "$(basename "$f")" -- lt-info "$f"
    [[ ! -s $LT_STDOUT ]] || fail "lt-info $f wrote a description"
done
expect_fail 1 "no_schema.h5 is an HDF5 file but not an lt-h5 one" -- lt-info --json "$B/no_schema.h5"
expect_fail 1 "feats_v2.h5 uses lt-h5 schema version 2; this lt reads version 1 \(hint: upgrade lt\)" -- \
    lt-info "$B/feats_v2.h5"
expect_fail 1 "^lt-info: error: <stdin>: standard input is not an HDF5 file$" -- lt-info - <"$B/not_hdf5.h5"
expect_fail 1 "^lt-info: error: <stdin>: standard input is a directory \(expected an lt-h5 file\)$" -- lt-info - <"$B"

section "several files, some bad: the good ones described, one error line per bad one, exit 1"
status=0
lt-info --json "$B/not_hdf5.h5" "$WORK/protos.h5" "$B/clf_nan.h5" "$G/clf.h5" >"$WORK/mixed.out" 2>"$WORK/mixed.err" ||
    status=$?
expect_equal "$status" 1 "exit status with bad files among good ones"
expect_lines "$WORK/mixed.out" 2
expect_lines "$WORK/mixed.err" 2
expect_grep "^lt-info: error: .*not_hdf5.h5 is not an HDF5 file$" "$WORK/mixed.err"
expect_grep "^lt-info: error: .*clf_nan.h5:/weights holds a non-finite value" "$WORK/mixed.err"
expect_equal "$(sed -n 1p "$WORK/mixed.err" | grep -c not_hdf5)" 1 "the errors in file order"

section "usage errors: exit 2"
expect_fail 2 "files is required" -- lt-info
expect_fail 2 "--class-counts takes one file" -- lt-info --class-counts "$G/train.h5" "$G/clf.h5"
expect_fail 2 "standard input \('-'\) can be given once" -- lt-info - -
expect_fail 2 "--few 200 is above --many 100" -- lt-info --few 200 "$G/clf.h5"
echo "lt-info: all checks passed"

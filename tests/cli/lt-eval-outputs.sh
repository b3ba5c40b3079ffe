#!/usr/bin/env bash
# lt-eval's outputs against numpy on tiny files written with h5py: per-class
# accuracies (--per-class), confusion counts (--confusion), top-k classes and
# probabilities (--predictions --top-k, also on unlabelled features), --top5,
# custom groups (--groups), and test classes a classifier has no row for
# (counted with accuracy 0 in their group or as ungrouped, one warning per
# classifier, the total reconstructable from the printed numbers in every
# format); bad inputs: one error line, exit 1 or 2, nothing written.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
W=$WORK
X=$W/out && mkdir -p "$X"

# A: cosine, 5 classes (counts: many 0 1, medium 2 3, few 4); B: cosine
# without class 4; L: linear with bias; E: ensemble of A and L. Test set
# balanced, 12 rows a class; U: the same rows unlabelled; S: labels 100..111
# (another id space).
"$PY" - "$W" <<'PY' || fail "writing the files"
import sys, h5py, numpy as np
W = sys.argv[1]
rng = np.random.default_rng(7)
C, D = 5, 6
centres = rng.normal(size=(C, D))
labels = np.repeat(np.arange(C), 12)
X = (centres[labels] + 1.3 * rng.normal(size=(len(labels), D))).astype(np.float32)
def features(path, y):
    with h5py.File(path, "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "features"
        f["features"] = X
        f["labels"] = np.asarray(y, dtype=np.int64)
features(f"{W}/test.h5", labels)
features(f"{W}/unlabelled.h5", np.full(len(labels), -1))
features(f"{W}/other.h5", 100 + np.arange(len(labels)) % 12)
def group(g, weights, ids, counts, kind="cosine", scale=10.0, bias=None):
    g.attrs["kind"] = kind
    g.attrs["scale"] = scale
    g["weights"] = weights.astype(np.float32)
    g["class_ids"] = np.asarray(ids, dtype=np.int64)
    g["class_counts"] = np.asarray(counts, dtype=np.int64)
    if bias is not None: g["bias"] = bias.astype(np.float32)
def classifier(path, *args, **kw):
    with h5py.File(path, "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "classifier"
        group(f, *args, **kw)
counts = [500, 150, 50, 30, 5]
WA = centres + 0.5 * rng.normal(size=(C, D))
WL = rng.normal(size=(C, D)) * 0.7 + centres
bias = rng.normal(size=C) * 0.5
classifier(f"{W}/A.h5", WA, range(C), counts, scale=12.0)
classifier(f"{W}/B.h5", WA[:4], range(4), counts[:4], scale=12.0)
classifier(f"{W}/L.h5", WL, range(C), counts, kind="linear", bias=bias)
with h5py.File(f"{W}/E.h5", "w") as f:
    f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "ensemble"
    f.attrs["rule"] = "mean-prob"
    group(f.create_group("members/0"), WA, range(C), counts, scale=12.0)
    group(f.create_group("members/1"), WL, range(C), counts, kind="linear", bias=bias)
np.savez(f"{W}/ref.npz", X=X, labels=labels, WA=WA, WL=WL, bias=bias, counts=counts)
# E with one count changed (class 2: 51), and E with the rule "max"
for name, rule, second in (("E-counts", "mean-prob", [500, 150, 51, 30, 5]), ("E-max", "max", counts)):
    with h5py.File(f"{W}/{name}.h5", "w") as f:
        f.attrs["lt_schema"] = "lt-h5"; f.attrs["lt_schema_version"] = 1; f.attrs["lt_type"] = "ensemble"
        f.attrs["rule"] = rule
        group(f.create_group("members/0"), WA, range(C), counts, scale=12.0)
        group(f.create_group("members/1"), WL, range(C), second, kind="linear", bias=bias)
classifier(f"{W}/L-counts.h5", WL[::-1], range(C - 1, -1, -1), [5, 30, 51, 150, 500], kind="linear", bias=bias)
with open(f"{W}/classes.txt", "w") as f:
    f.write("".join(f"class-{c}\n" for c in range(C)))
PY

# The numpy reference, shared by the checks below.
cat >"$W/ref.py" <<'PY'
import numpy as np, sys
r = np.load(sys.argv[1] + "/ref.npz")
F, labels, counts = r["X"].astype(np.float64), r["labels"], list(r["counts"])
unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)
def softmax(z):
    z = z - z.max(axis=1, keepdims=True); e = np.exp(z); return e / e.sum(axis=1, keepdims=True)
logits = {"A": 12.0 * unit(F) @ unit(r["WA"]).T,
          "B": 12.0 * unit(F) @ unit(r["WA"][:4]).T,
          "L": F @ r["WL"].T + r["bias"]}
prob = {k: softmax(v) for k, v in logits.items()}
prob["E"] = (prob["A"] + prob["L"]) / 2
ids = {"A": np.arange(5), "B": np.arange(4), "L": np.arange(5), "E": np.arange(5)}
def order(k):  # best first, ties to the lower column
    return np.argsort(-prob[k], axis=1, kind="stable")
pred = {k: ids[k][order(k)[:, 0]] for k in prob}
def per_class(k):  # percent, by class 0..4
    return np.array([100.0 * np.mean(pred[k][labels == c] == c) for c in range(5)])
def top5(k):
    o = ids[k][order(k)[:, :5]]
    return 100.0 * np.mean([labels[i] in o[i] for i in range(len(labels))])
def group_of(n):
    return "many" if n > 100 else ("few" if n < 20 else "medium")
def groups(k, with_counts=False):  # many, medium, few, ungrouped (class means), total
    acc = per_class(k)
    known = [c for c in range(5) if c in ids[k] or with_counts]
    out = {}
    for g in ("many", "medium", "few"):
        members = [acc[c] for c in known if group_of(counts[c]) == g]
        out[g] = np.mean(members) if members else float("nan")
    missing = [acc[c] for c in range(5) if c not in known]
    out["ungrouped"] = np.mean(missing) if missing else float("nan")
    out["total"] = 100.0 * np.mean(pred[k] == labels)
    return out
PY

section "per-class accuracies, groups, top5, --groups, all formats, against numpy"
printf '# new classes and a group of two\n\n4 new\n0 new\n2\tpair\n3 pair\n' >"$W/groups.txt"
for format in table tsv csv markdown json; do
  expect_logged lt-eval "$W/test.h5" "$W/A.h5" "$W/B.h5" "$W/L.h5" "$W/E.h5" --names A,B,L,E --top5 \
      --groups "$W/groups.txt" --format $format
  cp "$LT_STDOUT" "$W/report.$format"
  cp "$LT_STDERR" "$W/warn.$format"
done
expect_logged lt-eval -q "$W/test.h5" "$W/A.h5" "$W/B.h5" "$W/L.h5" "$W/E.h5" --names A,B,L,E \
    --per-class "$X/per-class.tsv" --class-names "$W/classes.txt" --groups "$W/groups.txt"
[ -s "$LT_STDOUT" ] || fail "no table with --per-class"
"$PY" - "$W" "$X" <<'PY' || fail "the reports against numpy"
import sys, json, csv, math
W, X = sys.argv[1], sys.argv[2]
sys.argv = [None, W]; exec(open(W + "/ref.py").read())
names = ["A", "B", "L", "E"]
def same(got, want, tol, what):
    if isinstance(want, float) and math.isnan(want):
        assert got in ("nan", "-", None) or (isinstance(got, float) and math.isnan(got)), (what, got)
        return
    assert abs(float(got) - want) <= tol, (what, got, want)
def wants(k):
    out = groups(k)
    out["top5"] = top5(k)
    acc = per_class(k)
    out["new"] = (acc[4] + acc[0]) / 2
    out["pair"] = (acc[2] + acc[3]) / 2
    return out
cols = ["many", "medium", "few", "total", "ungrouped", "top5", "new", "pair"]
# tsv and csv: full precision, columns in this order
for fmt, sep in (("tsv", "\t"), ("csv", ",")):
    rows = list(csv.reader(open(f"{W}/report.{fmt}"), delimiter=sep))
    assert rows[0] == ["name"] + cols, rows[0]
    for row, k in zip(rows[1:], names):
        assert row[0] == k
        for c, v in zip(cols, row[1:]): same(v, wants(k)[c], 1e-9, (fmt, k, c))
# table and markdown: 1 decimal
for fmt in ("table", "markdown"):
    lines = [l for l in open(f"{W}/report.{fmt}") if l.strip() and not l.startswith("|---")]
    head = lines[0].replace("|", " ").split()
    assert head == ["name"] + cols, head
    for line, k in zip(lines[1:], names):
        cells = line.replace("|", " ").split()
        assert cells[0] == k
        for c, v in zip(cols, cells[1:]): same(v, wants(k)[c], 0.051, (fmt, k, c))
doc = json.load(open(f"{W}/report.json"))
for d, k in zip(doc, names):
    w = wants(k)
    for c in ("many", "medium", "few", "total", "ungrouped", "top5"): same(d[c], w[c], 1e-9, ("json", k, c))
    same(d["groups"]["new"]["accuracy"], w["new"], 1e-9, "json new")
    assert d["groups"]["pair"]["classes"] == 2
    # The total from what is printed: on this balanced test set, the
    # class-weighted mean of the groups and the ungrouped classes.
    parts = [(d["classes"][g], d[g]) for g in ("many", "medium", "few", "ungrouped") if d["classes"][g]]
    rebuilt = sum(n * a for n, a in parts) / sum(n for n, _ in parts)
    assert abs(rebuilt - d["total"]) < 1e-9, (k, rebuilt, d["total"])
    assert d["samples"] == 60 and d["missing_samples"] == (12 if k == "B" else 0)
assert doc[1]["classes"] == {"many": 2, "medium": 2, "few": 0, "ungrouped": 1}, doc[1]["classes"]
# The same from the tsv's numbers (class counts per group: 2, 2, 1 or 0, ungrouped 1 or 0)
rows = list(csv.reader(open(f"{W}/report.tsv"), delimiter="\t"))
for row in rows[1:]:
    v = dict(zip(cols, map(float, row[1:])))
    parts = [(2, v["many"]), (2, v["medium"])] + ([(1, v["few"])] if not math.isnan(v["few"]) else [(1, v["ungrouped"])])
    assert abs(sum(n * a for n, a in parts) / 5 - v["total"]) < 1e-9, row
# --per-class
rows = list(csv.reader(open(f"{X}/per-class.tsv"), delimiter="\t"))
assert rows[0] == ["class_id", "name", "train_count", "group", "test_count"] + names, rows[0]
assert len(rows) == 6
group_names = {0: "many,new", 1: "many", 2: "medium,pair", 3: "medium,pair", 4: "few,new"}
for c, row in enumerate(rows[1:]):
    assert row[:5] == [str(c), f"class-{c}", str(counts[c]), group_names[c], "12"], row
    for k, v in zip(names, row[5:]): same(v, per_class(k)[c], 1e-9, ("per-class", k, c))
assert float(rows[5][6]) == 0.0  # B has no row for class 4
PY

section "a class without a row: one warning per classifier, its exact text"
for format in table tsv csv markdown json; do
  expect_lines "$W/warn.$format" 1
  expect_equal "$(cat "$W/warn.$format")" "lt-eval: warning: B: no row for 1 test class (12 of 60 test samples), id 4: counted as errors (accuracy 0) in the ungrouped column (no training count)" "the warning ($format)"
done
# With --counts the class is few-shot: accuracy 0 in the few group.
expect_logged lt-eval "$W/test.h5" "$W/B.h5" --counts "$W/A.h5" --format json
grep -q 'in their groups$' "$LT_STDERR" || fail "the warning with --counts: $(cat "$LT_STDERR")"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))[0]; assert d["few"] == 0 and d["classes"]["few"] == 1 and d["ungrouped"] is None, d' "$LT_STDOUT" \
  || fail "with --counts, the missing class is few with accuracy 0"
# json stays valid UTF-8 whatever bytes a classifier's name holds (a file
# name, --names)
bad_name=$W/$(printf 'A\xff.h5')
cp "$W/A.h5" "$bad_name"
expect_ok lt-eval "$W/test.h5" "$bad_name" --format json
"$PY" -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode()); assert d[0]["name"] == "A\ufffd.h5", d' \
  "$LT_STDOUT" || fail "json: a file name that is not UTF-8"
expect_ok lt-eval "$W/test.h5" "$bad_name" "$W/A.h5" --names "$(printf 'caf\xc3\xa9,\xe2\x82')" --format json
"$PY" -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode()); assert [r["name"] for r in d] == ["caf\u00e9", "\ufffd"], d' \
  "$LT_STDOUT" || fail "json: --names that are not UTF-8"
# Test labels from another id space: the warning says so, ids shortened.
expect_logged lt-eval "$W/other.h5" "$W/A.h5" "$W/L.h5"
expect_lines "$LT_STDERR" 2
expect_equal "$(head -1 "$LT_STDERR")" "lt-eval: warning: A.h5: no row for 12 test classes (60 of 60 test samples), ids 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, ... (2 more): counted as errors (accuracy 0) in the ungrouped column (no training count); more than half of the test samples have no row: the test labels and the classifier's class ids may be from different id spaces" "the id-space warning"
expect_grep '^A\.h5 +- +- +- +0\.0 +0\.0$' "$LT_STDOUT"

section "--confusion: counts against numpy, one group per classifier when several"
expect_logged lt-eval -q "$W/test.h5" "$W/B.h5" --confusion "$X/one.h5" --class-names "$W/classes.txt"
expect_logged lt-eval -q "$W/test.h5" "$W/A.h5" "$W/B.h5" "$W/E.h5" --names A,B,E --confusion "$X/three.h5"
"$PY" - "$W" "$X" <<'PY' || fail "confusion counts against numpy"
import sys, h5py
W, X = sys.argv[1], sys.argv[2]
sys.argv = [None, W]; exec(open(W + "/ref.py").read())
def want(k):
    m = np.zeros((5, 5), dtype=np.int64)
    for t, p in zip(labels, pred[k]): m[t, p] += 1
    return m
with h5py.File(f"{X}/one.h5") as f:
    assert f.attrs["lt_type"] == "confusion" and f.attrs["lt_schema_version"] == 1
    assert f["confusion"].dtype == np.int64 and (f["confusion"][()] == want("B")).all()
    assert list(f["class_ids"][()]) == [0, 1, 2, 3, 4]
    assert [n.decode() if isinstance(n, bytes) else n for n in f["names"][()]] == [f"class-{c}" for c in range(5)]
    assert f["confusion"][4, 4] == 0 and f["confusion"][4].sum() == 12
with h5py.File(f"{X}/three.h5") as f:
    for i, k in enumerate("ABE"):
        g = f[f"classifiers/{i}"]
        name = g.attrs["name"]
        assert (name.decode() if isinstance(name, bytes) else name) == k
        assert (g["confusion"][()] == want(k)).all(), k
        assert g["names"][0] in (b"0", "0")
PY

# lt-info describes the file: rows counted and those on the diagonal.
expect_ok lt-info --json "$X/three.h5"
"$PY" - "$W" "$LT_STDOUT" <<'PY' || fail "lt-info on a confusion file"
import sys, json
W = sys.argv[1]; doc = json.load(open(sys.argv[2]))
sys.argv = [None, W]; exec(open(W + "/ref.py").read())
assert doc["type"] == "confusion" and doc["schema_version"] == 1
assert [c["name"] for c in doc["classifiers"]] == ["A", "B", "E"]
for c, k in zip(doc["classifiers"], "ABE"):
    assert c["samples"] == 60 and c["correct"] == int((pred[k] == labels).sum()), (k, c)
PY

section "--predictions --top-k: classes and probabilities against numpy, labelled or not"
expect_logged lt-eval "$W/test.h5" "$W/A.h5" "$W/L.h5" "$W/E.h5" --predictions "$X/top.h5" --top-k 3
expect_logged lt-eval "$W/unlabelled.h5" "$W/A.h5" "$W/L.h5" "$W/E.h5" --predictions "$X/top-u.h5" --top-k 3
[ ! -s "$LT_STDOUT" ] || fail "an accuracy table for unlabelled features"
expect_grep 'note: .*unlabelled.h5 has no labels .* no accuracy table' "$LT_STDERR"
"$PY" - "$W" "$X" <<'PY' || fail "top-k against numpy"
import sys, h5py
W, X = sys.argv[1], sys.argv[2]
sys.argv = [None, W]; exec(open(W + "/ref.py").read())
for path in ("top.h5", "top-u.h5"):
    with h5py.File(f"{X}/{path}") as f:
        ids3, p3 = f["top_class_ids"][()], f["top_scores"][()]
        assert ids3.shape == (3, 60, 3) and ids3.dtype == np.int64 and p3.dtype == np.float32
        for i, k in enumerate("ALE"):
            o = order(k)[:, :3]
            assert (ids3[i] == ids[k][o]).all(), (path, k)
            assert np.allclose(p3[i], np.take_along_axis(prob[k], o, axis=1), rtol=1e-5, atol=1e-6), (path, k)
            assert (np.diff(p3[i], axis=1) <= 0).all()
            assert (f["predictions"][i] == pred[k]).all()
PY

section "names with a tab, a line break or '|' stay one field (TSV, CSV, markdown)"
printf 'class\t%s\n' 0 1 2 3 4 >"$W/classes-tab.txt"
cp "$W/A.h5" "$X/A|tab	new
line.h5"
expect_ok lt-eval "$W/test.h5" "$X/A|tab	new
line.h5" --class-names "$W/classes-tab.txt" --per-class "$X/pc-tab.tsv" --format tsv
awk -F'\t' 'NF != 6 { exit 1 }' "$X/pc-tab.tsv" || fail "--per-class: a row without 6 TSV fields"
[[ $(sed -n 2p "$X/pc-tab.tsv" | cut -f2) == "class 0" ]] || fail "--per-class: the class name's tab"
[[ $(wc -l <"$LT_STDOUT") == 2 ]] && awk -F'\t' 'NR == 1 { n = NF } NF != n { exit 1 }' "$LT_STDOUT" ||
    fail "--format tsv: not a header and one row of as many fields"
expect_ok lt-eval "$W/test.h5" "$X/A|tab	new
line.h5" --format markdown
grep -qF '| A\|tab	new line.h5 |' "$LT_STDOUT" || fail "--format markdown: the name's '|' and line break"
expect_ok lt-eval "$W/test.h5" "$X/A|tab	new
line.h5" --format csv
"$PY" -c 'import csv, sys; rows = list(csv.reader(open(sys.argv[1]))); assert len(rows) == 2 and rows[1][0].endswith("A|tab\tnew\nline.h5"), rows' \
    "$LT_STDOUT" || fail "--format csv: the name is not one quoted field"

section "bad input: one error line, exit 1 or 2, nothing written"
outs=("$X/p.h5" "$X/pc.tsv" "$X/c.h5")
all=(--predictions "$X/p.h5" --per-class "$X/pc.tsv" --confusion "$X/c.h5")
expect_fail 2 "top-k" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --top-k 0
expect_fail 2 "--top-k 5 is more than the 4 classes of B.h5" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "$W/B.h5" "${all[@]}" --top-k 5
expect_fail 2 "--top-k needs --predictions" -- lt-eval "$W/test.h5" "$W/A.h5" --top-k 2
expect_fail 2 "--per-class needs a file" -- lt-eval "$W/test.h5" "$W/A.h5" --per-class -
printf '0 new\n77 new\n' >"$W/g-unknown.txt"
expect_fail 1 "g-unknown.txt: class 77 \(group new\) is neither a test label nor a class" "${outs[@]}" -- \
    lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --groups "$W/g-unknown.txt"
printf '0 new\nx new\n' >"$W/g-bad.txt"
expect_fail 1 "g-bad.txt line 2: 'x' is not a class id" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --groups "$W/g-bad.txt"
printf '3\n' >"$W/g-noname.txt"
expect_fail 1 "line 1: class 3 has no group name" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --groups "$W/g-noname.txt"
printf '3 few\n' >"$W/g-taken.txt"
expect_fail 1 "group name 'few' is a column" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --groups "$W/g-taken.txt"
expect_fail 1 "cannot read groups file" "${outs[@]}" -- lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --groups "$W/none.txt"
# The groups file is an input: no output may replace it.
printf '0 rare\n3 rare\n' >"$X/g.txt"
cp "$X/g.txt" "$X/g-copy.txt"
for output in --per-class --predictions --confusion; do
    expect_fail 2 "g.txt is an input of this run" -- lt-eval "$W/test.h5" "$W/A.h5" --groups "$X/g.txt" "$output" "$X/g.txt"
    cmp -s "$X/g-copy.txt" "$X/g.txt" || fail "$output replaced the groups file"
done
# Members whose training counts differ would make the shot groups follow
# the member given first; a rule other than mean-prob would be scored as it.
COUNTS_DIFFER="give class 2 different training counts \(50 and 51\).*hint: the members of an ensemble come from one training set"
expect_fail 1 "E-counts.h5 member 0 and .*E-counts.h5 member 1 $COUNTS_DIFFER" "${outs[@]}" -- \
    lt-eval "$W/test.h5" "$W/E-counts.h5" "${all[@]}"
expect_fail 1 "A.h5 and .*L-counts.h5 $COUNTS_DIFFER" "$X/e.h5" -- lt-ensemble "$W/A.h5" "$W/L-counts.h5" -o "$X/e.h5"
expect_fail 1 "E-max.h5:/rule is 'max', an ensemble rule lt does not know" "${outs[@]}" -- \
    lt-eval "$W/test.h5" "$W/E-max.h5" "${all[@]}"
expect_fail 1 "E-max.h5:/rule is 'max'" "$X/e.h5" -- lt-ensemble "$W/E-max.h5" "$W/A.h5" -o "$X/e.h5"
expect_fail 1 "--confusion would hold .* GiB.*hint: --confusion-max-gib 1 allows it" "${outs[@]}" -- \
    lt-eval "$W/test.h5" "$W/A.h5" "${all[@]}" --confusion-max-gib 1e-9
expect_fail 1 "unlabelled.h5 has no labelled rows.*hint: --predictions" -- lt-eval "$W/unlabelled.h5" "$W/A.h5"
expect_fail 1 "no labelled rows .* so no --confusion" "$X/p.h5" "$X/c.h5" -- \
    lt-eval "$W/unlabelled.h5" "$W/A.h5" --predictions "$X/p.h5" --confusion "$X/c.h5"
# An output that cannot be written leaves none of the others.
expect_fail 1 "nodir" "$X/p.h5" "$X/c.h5" -- lt-eval "$W/test.h5" "$W/A.h5" --predictions "$X/p.h5" --confusion "$X/c.h5" --per-class "$X/nodir/pc.tsv"
expect_fail 1 "nodir" "$X/p.h5" "$X/pc.tsv" -- lt-eval "$W/test.h5" "$W/A.h5" --predictions "$X/p.h5" --per-class "$X/pc.tsv" --confusion "$X/nodir/c.h5"
echo "ok"

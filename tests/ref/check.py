#!/usr/bin/env python3
"""Compares outputs of the lt tools with the numpy reference (ltref.py).

One check per line, either on the command line or in a manifest file
(`check.py -f MANIFEST`, one check a line, '#' comments); a manifest runs all
checks in one Python process.  Each line may end with `## <command>`: the
command that produced the output, printed with any disagreement.

Checks (paths are files; options after the positional arguments):
  protos OUT.h5 FEATS.h5
  attend OUT.h5 CLF PROTOS [--mode M] [-k K] [--tau T] [--terms L | --continual]
  attend-error CLF PROTOS [same options]          the reference must refuse too
  ensemble OUT.h5 FEATS.h5 MEMBER...              mean-prob over flattened members
  eval-tsv OUT.tsv FEATS.h5 CLF... [--counts F] [--many N] [--few N]
           [--within-group] [--names A,B] [--no-names]
  eval-json OUT.json (same options as eval-tsv)
  predictions OUT.h5 FEATS.h5 CLF [--within-group] [--counts F]
  mismatch OUT.txt CLF PROTOS
  sharpness OUT.txt CLF PROTOS
  neighbours OUT.txt CLF PROTOS N [--class ID] [--tau T] [--names CLASSES.txt]

Tolerances: 1e-5 absolute on weights/probabilities/cosines, 1e-4 on
percentages.  Exit 0 when every check agrees, 1 otherwise.
"""

import argparse
import json
import re
import math
import os
import shlex
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltref  # noqa: E402

TOL_W = 1e-5
TOL_PCT = 1e-4


class Mismatch(Exception):
    pass


def fail(msg):
    raise Mismatch(msg)


def check_header(f, lt_type):
    if ltref.attr(f, "lt_schema") != "lt-h5":
        fail("lt_schema is %r, not 'lt-h5'" % ltref.attr(f, "lt_schema"))
    v = f.attrs.get("lt_schema_version")
    if v is None or int(np.asarray(v).reshape(-1)[0]) != 1:
        fail("lt_schema_version is %r, not 1" % (v,))
    if ltref.attr(f, "lt_type") != lt_type:
        fail("lt_type is %r, not %r" % (ltref.attr(f, "lt_type"), lt_type))
    for a in ("lt_tool", "lt_version", "lt_command_line", "lt_created_utc"):
        if a not in f.attrs:
            fail("provenance attribute %s missing" % a)


def close(name, got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        fail("%s: shape %s, reference %s" % (name, got.shape, want.shape))
    both_nan = np.isnan(got) & np.isnan(want)
    d = np.where(both_nan, 0.0, np.abs(got - want))
    d = np.where(np.isnan(d), np.inf, d)
    if d.size and d.max() > tol:
        i = np.unravel_index(np.argmax(d), d.shape)
        fail("%s: max |diff| %.3g at %s (tool %r, reference %r)"
             % (name, d.max(), tuple(int(j) for j in i), float(got[i]), float(want[i])))


def aligned(ids_got, rows_got, ids_want, rows_want, name):
    ids_got = [int(c) for c in ids_got]
    ids_want = [int(c) for c in ids_want]
    if sorted(ids_got) != sorted(ids_want):
        fail("%s: class ids %s, reference %s" % (name, sorted(ids_got), sorted(ids_want)))
    pos = {c: i for i, c in enumerate(ids_got)}
    return np.asarray(rows_got)[[pos[c] for c in ids_want]], np.asarray(rows_want)


# ---------------------------------------------------------------- checks


def c_protos(a):
    X, y = ltref.load_features(a.feats)
    ref = ltref.prototypes(X, y)
    with h5py.File(a.out, "r") as f:
        check_header(f, "prototypes")
        ids = f["class_ids"][()]
        P = f["prototypes"][()]
        n = f["counts"][()]
        if f["prototypes"].dtype != np.float32:
            fail("/prototypes is %s, not float32" % f["prototypes"].dtype)
    got, want = aligned(ids, P, ref.class_ids, ref.protos, "prototypes")
    close("prototypes", got, want, TOL_W)
    got, want = aligned(ids, n, ref.class_ids, ref.counts, "counts")
    if not np.array_equal(got, want):
        fail("counts %s, reference %s" % (got.tolist(), want.tolist()))
    return "%d classes" % len(ids)


def attend_ref(a):
    clf = ltref.load_classifier(a.clf)
    if len(clf) != 1:
        fail("attend reference: --classifier is an ensemble")
    pro = ltref.load_prototypes(a.protos)
    return ltref.attend(clf[0], pro, a.mode, a.k, a.tau, a.terms, a.continual)


def c_attend(a):
    ref = attend_ref(a)
    with h5py.File(a.out, "r") as f:
        check_header(f, "classifier")
        ids = f["class_ids"][()]
        W = f["weights"][()]
        n = f["class_counts"][()]
        attrs = {k: ltref.attr(f, k) for k in ("kind", "scale", "mode", "k", "tau", "terms")}
        if f["weights"].dtype != np.float32:
            fail("/weights is %s, not float32" % f["weights"].dtype)
    if [int(c) for c in ids] != sorted(int(c) for c in ref.class_ids):
        fail("class_ids %s, reference (sorted union) %s" % (ids.tolist(), ref.class_ids.tolist()))
    close("weights", W, ref.weights, TOL_W)
    if not np.array_equal(n, ref.class_counts):
        fail("class_counts %s, reference %s" % (n.tolist(), ref.class_counts.tolist()))
    if attrs["kind"] != "cosine":
        fail("kind %r" % attrs["kind"])
    close("scale", float(np.asarray(attrs["scale"]).reshape(-1)[0]), ref.scale, 1e-5)
    if attrs["mode"] != a.mode:
        fail("mode attribute %r, expected %r" % (attrs["mode"], a.mode))
    if attrs["k"] is None or float(np.asarray(attrs["k"]).reshape(-1)[0]) != float(a.k):
        fail("k attribute %r, expected %r" % (attrs["k"], a.k))
    if attrs["tau"] is None or abs(float(np.asarray(attrs["tau"]).reshape(-1)[0]) - a.tau) > 1e-6:
        fail("tau attribute %r, expected %r" % (attrs["tau"], a.tau))
    if attrs["terms"] is None or set(str(attrs["terms"]).split(",")) != set(ref.attrs["terms"].split(",")):
        fail("terms attribute %r, expected %r" % (attrs["terms"], ref.attrs["terms"]))
    return "%d classes" % len(ids)


def c_attend_error(a):
    try:
        attend_ref(a)
    except ltref.RefError as e:
        return "reference refuses too: %s" % e
    fail("the reference computes this attend without error, the tool refused it")


def c_ensemble(a):
    X, _ = ltref.load_features(a.feats)
    want_members = [m for p in a.members for m in ltref.load_classifier(p)]
    ids_w, want = ltref.ensemble_probs(want_members, X)
    with h5py.File(a.out, "r") as f:
        check_header(f, "ensemble")
        if ltref.attr(f, "rule") != "mean-prob":
            fail("rule %r" % ltref.attr(f, "rule"))
        for key in f["members"]:
            if "members" in f["members"][key]:
                fail("nested ensemble not flattened (member %s has members)" % key)
    got_members = ltref.load_classifier(a.out)
    if len(got_members) != len(want_members):
        fail("%d members, reference (flattened) %d" % (len(got_members), len(want_members)))
    for i, (g, w) in enumerate(zip(got_members, want_members)):
        close("member %d scale" % i, g.scale, w.scale, 1e-5)
        gw, ww = aligned(g.class_ids, ltref.unit(g.weights), w.class_ids, ltref.unit(w.weights),
                         "member %d" % i)
        close("member %d unit weights" % i, gw, ww, TOL_W)
    ids_g, got = ltref.ensemble_probs(got_members, X)
    got, want = aligned(ids_g, got.T, ids_w, want.T, "ensemble probabilities")
    close("ensemble probabilities", got, want, TOL_W)
    return "%d members" % len(got_members)


def eval_refs(a):
    X, y = ltref.load_features(a.feats)
    counts = ltref.load_counts(a.counts) if a.counts else None
    return [ltref.eval_file(X, y, p, counts, a.many, a.few, a.within_group) for p in a.clfs]


def names_of(a):
    if a.names:
        return a.names.split(",")
    return [os.path.basename(p) for p in a.clfs]


def c_eval_tsv(a):
    refs = eval_refs(a)
    with open(a.out) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    # an ungrouped column when some classifier has test classes without a count
    keys = ["many", "medium", "few", "total"] + (["ungrouped"] if any(r["ungrouped_classes"] for r in refs) else [])
    if not lines or lines[0].split("\t") != ["name"] + keys:
        fail("header %r, expected %r" % (lines[:1], "\t".join(["name"] + keys)))
    rows = [l.split("\t") for l in lines[1:]]
    if len(rows) != len(refs):
        fail("%d rows, expected %d" % (len(rows), len(refs)))
    for row, ref, name in zip(rows, refs, names_of(a)):
        if len(row) != 1 + len(keys):
            fail("row %r has %d fields" % (row, len(row)))
        if not a.no_names and row[0] != name:
            fail("row name %r, expected %r" % (row[0], name))
        for field, key in zip(row[1:], keys):
            if math.isnan(ref[key]):
                if field != "nan":
                    fail("%s %s: %r, expected 'nan' (empty group)" % (name, key, field))
                continue
            try:
                v = float(field)
            except ValueError:
                fail("%s %s: %r is not a number" % (name, key, field))
            close("%s %s" % (name, key), v, ref[key], TOL_PCT)  # 1-decimal rounding fails here
    return "%d rows" % len(rows)


def c_eval_json(a):
    refs = eval_refs(a)
    with open(a.out) as f:
        try:
            got = json.load(f)
        except ValueError as e:
            fail("not JSON: %s" % e)
    if not isinstance(got, list) or len(got) != len(refs):
        fail("expected a list of %d objects, got %r" % (len(refs), type(got).__name__))
    for obj, ref, name in zip(got, refs, names_of(a)):
        for key in ("name", "many", "medium", "few", "total", "ungrouped", "class_mean", "top5", "samples"):
            if key not in obj:
                fail("%s: key %r missing (keys %s)" % (name, key, sorted(obj)))
        if not a.no_names and obj["name"] != name:
            fail("name %r, expected %r" % (obj["name"], name))
        for key in ("many", "medium", "few", "total", "ungrouped", "class_mean", "top5"):
            v = obj[key]
            if math.isnan(ref[key]):
                if v is not None and not (isinstance(v, float) and math.isnan(v)) and v != "nan":
                    fail("%s %s: %r, expected null/NaN (empty group)" % (name, key, v))
                continue
            if not isinstance(v, (int, float)):
                fail("%s %s: %r is not a number" % (name, key, v))
            close("%s %s" % (name, key), v, ref[key], TOL_PCT)
        if obj["samples"] != ref["samples"]:
            fail("%s samples %r, expected %d" % (name, obj["samples"], ref["samples"]))
    return "%d objects" % len(got)


def c_predictions(a):
    ref = eval_refs(a)[0]
    with h5py.File(a.out, "r") as f:
        names = list(f.keys())
        cand = [n for n in names if "pred" in n.lower() and isinstance(f[n], h5py.Dataset)]
        if not cand:
            fail("no prediction dataset among %s" % names)
        pred = f[cand[0]][()]
    X, y = ltref.load_features(a.feats)
    want = ref["predictions"]
    if pred.ndim > 1:
        pred = pred[:, 0] if pred.shape[0] == len(y) else pred[0]
    if len(pred) == len(y):  # one row per sample, -1 labels included
        pred = pred[y >= 0]
    if len(pred) != len(want):
        fail("%s has %d rows, expected %d labelled or %d samples" % (cand[0], len(pred), len(want), len(y)))
    bad = np.flatnonzero(pred != want)
    if len(bad):
        fail("%d predictions differ, first at labelled sample %d: tool %d, reference %d"
             % (len(bad), bad[0], pred[bad[0]], want[bad[0]]))
    return "%d predictions (dataset /%s)" % (len(pred), cand[0])


def read_tsv(path):
    with open(path) as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip()]


def c_mismatch(a):
    clf = ltref.load_classifier(a.clf)[0]
    pro = ltref.load_prototypes(a.protos)
    n, compared, rows = ltref.mismatch(clf, pro)
    lines = read_tsv(a.out)
    if not lines or lines[0][0] != "mismatches" or len(lines[0]) < 3:
        fail("first line %r, expected 'mismatches\\t<count>\\t<compared>'" % (lines[:1],))
    if int(lines[0][1]) != n or int(lines[0][2]) != compared:
        fail("first line %r, reference mismatches=%d compared=%d" % (lines[0], n, compared))
    if len(lines) < 2 or lines[1][:2] != ["class_id", "closest_class_id"]:
        fail("second line %r, expected 'class_id\\tclosest_class_id'" % (lines[1:2],))
    got = sorted((int(r[0]), int(r[1])) for r in lines[2:])
    if got != sorted(rows):
        fail("rows %s, reference %s" % (got, sorted(rows)))
    return "%d of %d" % (n, compared)


def c_sharpness(a):
    clf = ltref.load_classifier(a.clf)[0]
    pro = ltref.load_prototypes(a.protos)
    ref = ltref.sharpness(clf, pro)
    lines = read_tsv(a.out)
    if not lines or lines[0] != ["rank", "mean_cosine"]:
        fail("header %r, expected 'rank\\tmean_cosine'" % (lines[:1],))
    ranks = [int(r[0]) for r in lines[1:]]
    if ranks != list(range(1, len(ref) + 1)):
        fail("ranks %s.., expected 1..%d" % (ranks[:5], len(ref)))
    close("sharpness", [float(r[1]) for r in lines[1:]], ref, TOL_W)
    return "%d ranks" % len(ref)


def c_neighbours(a):
    clf = ltref.load_classifier(a.clf)[0]
    pro = ltref.load_prototypes(a.protos)
    ref = ltref.neighbours(clf, pro, a.n, a.tau, a.cls)
    lines = read_tsv(a.out)
    if not lines or lines[0][:4] != ["class_id", "rank", "neighbour_id", "score"]:
        fail("header %r, expected 'class_id\\trank\\tneighbour_id\\tscore'" % (lines[:1],))
    rows = lines[1:]
    if a.names:  # --class-names: line i names class id i
        with open(a.names) as f:
            names = [l.strip() for l in f]
        if lines[0][4:] != ["class_name", "neighbour_name"]:
            fail("header %r lacks class_name, neighbour_name" % (lines[0],))
        for r in rows:
            want = [names[int(r[0])], names[int(r[2])]]
            if r[4:6] != want:
                fail("row %r: names %r, expected %r" % (r, r[4:6], want))
        rows = [r[:4] for r in rows]
    if len(rows) != len(ref):
        fail("%d rows, reference %d" % (len(rows), len(ref)))
    got = sorted((int(r[0]), int(r[1]), int(r[2]), float(r[3])) for r in rows)
    for g, w in zip(got, sorted(ref)):
        if g[:3] != w[:3]:
            fail("row %s, reference %s" % (g, w))
        close("score of %s" % (g[:3],), g[3], w[3], TOL_W)
    return "%d rows" % len(rows)


# ---------------------------------------------------------------- parsing


def parser():
    ap = argparse.ArgumentParser(prog="check.py", add_help=False)
    sub = ap.add_subparsers(dest="check", required=True)

    def attend_opts(p):
        p.add_argument("--mode", default="p2w")
        p.add_argument("-k", type=float, default=0)
        p.add_argument("--tau", type=float, default=10.0)
        p.add_argument("--terms", default="kt,p,w")
        p.add_argument("--continual", action="store_true")

    p = sub.add_parser("protos"); p.add_argument("out"); p.add_argument("feats")
    p.set_defaults(fn=c_protos)
    p = sub.add_parser("attend"); p.add_argument("out"); p.add_argument("clf"); p.add_argument("protos")
    attend_opts(p); p.set_defaults(fn=c_attend)
    p = sub.add_parser("attend-error"); p.add_argument("clf"); p.add_argument("protos")
    attend_opts(p); p.set_defaults(fn=c_attend_error)
    p = sub.add_parser("ensemble"); p.add_argument("out"); p.add_argument("feats")
    p.add_argument("members", nargs="+"); p.set_defaults(fn=c_ensemble)
    for name, fn in (("eval-tsv", c_eval_tsv), ("eval-json", c_eval_json), ("predictions", c_predictions)):
        p = sub.add_parser(name); p.add_argument("out"); p.add_argument("feats")
        p.add_argument("clfs", nargs="+")
        p.add_argument("--counts"); p.add_argument("--many", type=float, default=100)
        p.add_argument("--few", type=float, default=20)
        p.add_argument("--within-group", action="store_true")
        p.add_argument("--names"); p.add_argument("--no-names", action="store_true")
        p.set_defaults(fn=fn)
    for name, fn in (("mismatch", c_mismatch), ("sharpness", c_sharpness)):
        p = sub.add_parser(name); p.add_argument("out"); p.add_argument("clf"); p.add_argument("protos")
        p.set_defaults(fn=fn)
    p = sub.add_parser("neighbours"); p.add_argument("out"); p.add_argument("clf")
    p.add_argument("protos"); p.add_argument("n", type=int)
    p.add_argument("--class", dest="cls", type=int); p.add_argument("--tau", type=float, default=10.0)
    p.add_argument("--names", help="the --class-names file given to lt-compat")
    p.set_defaults(fn=c_neighbours)
    return ap


def short(words):
    """The check with its paths shortened to basenames, at most 8 words."""
    w = [os.path.basename(x) if "/" in x else x for x in words]
    return " ".join(w[:8]) + (" ... (%d more)" % (len(w) - 8) if len(w) > 8 else "")


def run_one(words, cmd=None, verbose=False):
    a = parser().parse_args(words)
    label = short(words)
    if cmd:
        cmd = re.sub(r"(?<![\w.])/\S*/", "", cmd)  # basenames only
        cmd = cmd if len(cmd) < 400 else cmd[:400] + " ..."
    try:
        info = a.fn(a)
    except Mismatch as e:
        print("MISMATCH %s: %s" % (label, e))
        if cmd:
            print("  produced by: %s" % cmd)
        return False
    except (OSError, KeyError, ValueError, ltref.RefError) as e:
        print("ERROR %s: %s: %s" % (label, type(e).__name__, e))
        if cmd:
            print("  produced by: %s" % cmd)
        return False
    if verbose:
        print("ok %s (%s)" % (label, info))
    return True


def main():
    argv = sys.argv[1:]
    verbose = "-v" in argv
    argv = [w for w in argv if w != "-v"]
    if argv[:1] == ["-f"]:
        ok = total = 0
        with open(argv[1]) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                cmd = None
                if "##" in line:
                    line, cmd = (s.strip() for s in line.split("##", 1))
                total += 1
                ok += run_one(shlex.split(line), cmd, verbose)
        print("check.py: %d of %d checks agree with the reference" % (ok, total))
        sys.exit(0 if ok == total else 1)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    sys.exit(0 if run_one(argv, None, True) else 1)


if __name__ == "__main__":
    main()

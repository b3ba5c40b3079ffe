#!/usr/bin/env python3
"""NumPy reference of the rebalancing baselines (lt-adjust, lt-retrain's data).

Written from the equations and man/lt-h5.5, not from the C++:

  tau-normalisation (Kang et al. 2020)   logits_j = x . w_j / |w_j|^P, bias dropped;
      for a cosine classifier (logits s x^ . w_j / |w_j|) x is taken at unit
      length and the logits keep the scale s: s x^ . w_j / |w_j|^P
  logit adjustment (Menon et al. 2021)   logits_j - T log pi_j

  baselines.py adjust ADJUSTED.h5 ORIGINAL.h5 FEATS.h5 (--tau-norm P | --logit-adjust T [--prior F])
      the logits of ADJUSTED.h5 (read as lt-h5 describes: version 2 cosine
      classifiers: s g_j cos + b_j) equal the equations applied to ORIGINAL.h5
  baselines.py eval-tsv OUT.tsv ORIGINAL.h5 FEATS.h5 (same options)
      lt-eval's many/medium/few/total of the adjusted classifier (a one-row
      --format tsv table) equal those of the equations' logits
  baselines.py linear OUT.h5 TRAIN.h5
      a linear classifier with count-dependent norms and biases, as joint
      training leaves them (class means times n_j^0.3, bias 0.2 log n_j)
  baselines.py longtail DIR [--seed S]
      DIR/train.h5 (long-tailed, n_j from 150 down to 3) and DIR/test.h5
      (balanced) features of overlapping Gaussian classes
"""

import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltref  # noqa: E402


def read_group(path):
    """The classifier of a file, as arrays and attributes (a model's /classifier)."""
    f = h5py.File(path, "r")
    t = ltref.attr(f, "lt_type")
    if t == "prototypes":
        return dict(kind="cosine", scale=16.0, version=1, weights=f["prototypes"][()].astype(np.float64),
                    ids=f["class_ids"][()], counts=f["counts"][()], bias=None, scales=None)
    g = f["classifier"] if t == "model" else f
    kind = ltref.attr(g, "kind", "cosine")
    version = int(g.attrs.get("version", 1))
    ext = kind == "cosine" and version >= 2
    return dict(kind=kind, scale=float(np.asarray(g.attrs.get("scale", 16.0)).reshape(-1)[0]), version=version,
                weights=g["weights"][()].astype(np.float64), ids=g["class_ids"][()], counts=g["class_counts"][()],
                bias=g["bias"][()].astype(np.float64) if (kind == "linear" or (ext and "bias" in g)) else None,
                scales=g["class_scales"][()].astype(np.float64) if (ext and "class_scales" in g) else None)


def file_logits(c, x):
    """Logits as man/lt-h5.5 defines them."""
    if c["kind"] == "linear":
        return x @ c["weights"].T + c["bias"]
    z = c["scale"] * ltref.unit(x) @ ltref.unit(c["weights"]).T
    if c["scales"] is not None:
        z = z * c["scales"]
    if c["bias"] is not None:
        z = z + c["bias"]
    return z


def prior_of(c, path):
    if path is None:
        n = dict(zip(c["ids"].tolist(), c["counts"].astype(np.float64).tolist()))
    elif open(path, "rb").read(8) == b"\x89HDF\r\n\x1a\n":
        n = {k: float(v) for k, v in ltref.load_counts(path).items()}
    else:
        n = {}
        for line in open(path):
            line = line.split("#")[0].split()
            if line:
                n[int(line[0])] = float(line[1])
    pi = np.array([n[i] for i in c["ids"].tolist()])
    return pi / pi.sum()


def expected_logits(c, x, args):
    """The equations, applied to the original classifier."""
    assert c["version"] == 1 and c["scales"] is None, "the reference starts from a plain classifier"
    w = c["weights"]
    if args.tau_norm is not None:
        norm = np.linalg.norm(w, axis=1)
        wp = w / np.where(norm > 0, norm ** args.tau_norm, 1.0)[:, None]
        if c["kind"] == "linear":
            return x @ wp.T
        return c["scale"] * ltref.unit(x) @ wp.T
    return file_logits(c, x) - args.logit_adjust * np.log(prior_of(c, args.prior))


def adjust_options(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--tau-norm", type=float)
    g.add_argument("--logit-adjust", type=float)
    p.add_argument("--prior")


def cmd_adjust(args):
    x, _ = ltref.load_features(args.features)
    adjusted, original = read_group(args.adjusted), read_group(args.original)
    assert (adjusted["ids"] == original["ids"]).all() and (adjusted["counts"] == original["counts"]).all()
    assert adjusted["kind"] == original["kind"]
    if adjusted["kind"] == "cosine" and (adjusted["bias"] is not None or adjusted["scales"] is not None):
        assert adjusted["version"] == 2, "a cosine classifier with scales or a bias must say version 2"
    got, want = file_logits(adjusted, x), expected_logits(original, x, args)
    err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    if not err < 1e-5:
        print("FAIL: %s: logits differ from the equations by %.3g (relative)" % (args.adjusted, err))
        return 1
    return 0


def cmd_eval_tsv(args):
    x, y = ltref.load_features(args.features)
    original = read_group(args.original)
    res = ltref.evaluate(y, original["ids"], expected_logits(original, x, args),
                         dict(zip(original["ids"].tolist(), original["counts"].tolist())))
    lines = [l.rstrip("\n").split("\t") for l in open(args.tsv) if l.strip()]
    head, row = lines[0], lines[1]
    bad = 0
    for group in ("many", "medium", "few", "total"):
        got, want = float(row[head.index(group)]), res[group]
        if not (np.isnan(want) and np.isnan(got)) and not abs(got - want) < 1e-4:
            print("FAIL: %s %s: lt-eval %.6f, the equations %.6f" % (args.tsv, group, got, want))
            bad = 1
    return bad


def write_features(path, x, y):
    with h5py.File(path, "w") as f:
        f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="features")
        f["features"] = x.astype(np.float32)
        f["labels"] = y.astype(np.int64)


def cmd_linear(args):
    x, y = ltref.load_features(args.train)
    ids, n = np.unique(y[y >= 0], return_counts=True)
    means = np.stack([x[y == i].mean(axis=0) for i in ids])
    with h5py.File(args.out, "w") as f:
        f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="classifier", kind="linear")
        f["weights"] = (means * (n[:, None] ** 0.3)).astype(np.float32)
        f["bias"] = (0.2 * np.log(n)).astype(np.float32)
        f["class_ids"] = ids
        f["class_counts"] = n
    return 0


def cmd_longtail(args):
    rng = np.random.default_rng(args.seed)
    classes, dim = 20, 16
    counts = np.floor(150 * (3 / 150) ** (np.arange(classes) / (classes - 1))).astype(int)
    centres = rng.normal(size=(classes, dim)) * 1.2
    def draw(n_of):
        y = np.repeat(np.arange(classes), n_of)
        return centres[y] + rng.normal(size=(len(y), dim)) + 3.0, y  # offset: not centred at 0
    os.makedirs(args.dir, exist_ok=True)
    write_features(os.path.join(args.dir, "train.h5"), *draw(counts))
    write_features(os.path.join(args.dir, "test.h5"), *draw(np.full(classes, 60)))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("adjust")
    a.add_argument("adjusted"); a.add_argument("original"); a.add_argument("features")
    adjust_options(a)
    e = sub.add_parser("eval-tsv")
    e.add_argument("tsv"); e.add_argument("original"); e.add_argument("features")
    adjust_options(e)
    l = sub.add_parser("linear")
    l.add_argument("out"); l.add_argument("train")
    t = sub.add_parser("longtail")
    t.add_argument("dir"); t.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    return {"adjust": cmd_adjust, "eval-tsv": cmd_eval_tsv, "linear": cmd_linear, "longtail": cmd_longtail}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

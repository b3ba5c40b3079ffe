#!/usr/bin/env python3
"""Read lt files with h5py and redo lt's core computations in numpy.

  read_lt.py DIR                      a backbone folder of Makefile.pipeline
                                      (results/<dataset>/<backbone>/seed<S>)
  read_lt.py --model MODEL.h5 --train TRAIN.h5 --test TEST.h5 [--protos PROTOS.h5]
             [--classifier CLF.h5 ...]

Prints what each file holds, recomputes the prototypes (docs/method.md Eq. 3) and
compares them with lt-protos' file when given, and evaluates the model's cosine
classifier, the prototypes and any classifier or ensemble file on the test
features (top-1, mean of softmax probabilities for ensembles, Eq. 8).
Needs numpy and h5py (Debian: python3-numpy python3-h5py).
"""

import argparse
import os
import sys

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(path):
    with h5py.File(path, "r") as f:
        attrs = {k: text(v) if not isinstance(v, np.ndarray) else v.tolist() for k, v in f.attrs.items()}
        print("%s: lt_type=%s, written by %s %s" % (path, attrs.get("lt_type", "?"), attrs.get("lt_tool", "?"),
                                                   attrs.get("lt_version", "")))
        if "lt_command_line" in attrs:
            print("  command: %s" % attrs["lt_command_line"])

        def show(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith(("backbone/", "train_state/")):
                print("  /%-24s %-10s %s" % (name, obj.dtype, obj.shape))
        f.visititems(show)


def read_features(path):
    with h5py.File(path, "r") as f:
        X = f["features"][...].astype(np.float32)   # [N, D], row-major
        y = f["labels"][...].astype(np.int64)       # global class ids, -1 = unknown
    return X, y


def read_classifier_group(g):
    """A classifier laid out in a group: /weights [C, D], /class_ids [C], scale."""
    W = g["weights"][...].astype(np.float64)
    ids = g["class_ids"][...].astype(np.int64)
    scale = float(g.attrs.get("scale", 16.0))
    return W, ids, scale


def read_classifiers(path):
    """Members (W, ids, scale) of any classifier argument: classifier, ensemble,
    prototypes (as cosine weights) or model (its /classifier group)."""
    with h5py.File(path, "r") as f:
        kind = text(f.attrs.get("lt_type", ""))
        if kind == "ensemble" or "members" in f:
            return [read_classifier_group(f["members"][k]) for k in sorted(f["members"], key=int)]
        if kind == "model" or "classifier" in f:
            return [read_classifier_group(f["classifier"])]
        if kind == "prototypes" or "prototypes" in f:
            return [(f["prototypes"][...].astype(np.float64), f["class_ids"][...].astype(np.int64), 16.0)]
        return [read_classifier_group(f)]


def unit(rows):
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def prototypes(X, y):
    """Eq. 3: per class, the mean of the L2-normalised features."""
    ids = np.unique(y[y >= 0])
    Xn = unit(X.astype(np.float64))
    return np.stack([Xn[y == c].mean(axis=0) for c in ids]), ids


def accuracy(members, X, y):
    """Top-1 (%) of the mean over members of softmax(s * cos(f, w)), Eq. 8."""
    keep = y >= 0
    Xn = unit(X[keep].astype(np.float64))
    ids = members[0][1]
    prob = 0
    for W, member_ids, scale in members:
        order = np.argsort(member_ids)
        member_ids, W = member_ids[order], W[order]
        if not np.array_equal(np.sort(ids), member_ids):
            raise SystemExit("ensemble members have different classes")
        logits = scale * Xn @ unit(W).T
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        prob = prob + p / p.sum(axis=1, keepdims=True)
    predicted = np.sort(ids)[np.argmax(prob, axis=1)]
    return 100.0 * np.mean(predicted == y[keep])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", help="a backbone folder of Makefile.pipeline")
    ap.add_argument("--model")
    ap.add_argument("--train")
    ap.add_argument("--test")
    ap.add_argument("--protos")
    ap.add_argument("--classifier", action="append", default=[])
    a = ap.parse_args()
    if a.dir:
        J = lambda *p: os.path.join(a.dir, *p)  # noqa: E731
        a.model = a.model or J("model.h5")
        a.train = a.train or J("features", "train.h5")
        a.test = a.test or J("features", "test.h5")
        a.protos = a.protos or (J("protos.h5") if os.path.exists(J("protos.h5")) else None)
        if not a.classifier and os.path.exists(J("clf", "ensemble-wh.h5")):
            a.classifier = [J("clf", "wh20.h5"), J("clf", "ensemble-wh.h5")]
    if not (a.model and a.train and a.test):
        ap.error("give DIR, or --model, --train and --test")

    for path in [a.model, a.train, a.test] + ([a.protos] if a.protos else []) + a.classifier:
        describe(path)
    print()

    Xtr, ytr = read_features(a.train)
    Xte, yte = read_features(a.test)
    P, ids = prototypes(Xtr, ytr)
    print("prototypes recomputed in numpy: %d classes x %d dimensions" % P.shape)
    if a.protos:
        with h5py.File(a.protos, "r") as f:
            theirs = dict(zip(f["class_ids"][...], f["prototypes"][...].astype(np.float64)))
        diff = max(np.abs(theirs[c] - P[i]).max() for i, c in enumerate(ids))
        print("  largest difference from %s: %.2e" % (a.protos, diff))
    print()
    print("top-1 on %s (%d samples):" % (a.test, int((yte >= 0).sum())))
    print("  %-40s %6.2f%%" % ("cosine classifier (" + os.path.basename(a.model) + ")",
                              accuracy(read_classifiers(a.model), Xte, yte)))
    print("  %-40s %6.2f%%" % ("prototypes (numpy)", accuracy([(P, ids, 16.0)], Xte, yte)))
    for path in a.classifier:
        print("  %-40s %6.2f%%" % (os.path.basename(path), accuracy(read_classifiers(path), Xte, yte)))


if __name__ == "__main__":
    sys.exit(main())

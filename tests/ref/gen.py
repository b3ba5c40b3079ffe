#!/usr/bin/env python3
"""Writes lt-h5 test files with h5py, the way a user exporting from PyTorch would.

  gen.py data DIR [--seed 1] [--dim 32] [--classes 24]
      DIR/train.h5   features  f32, chunked+gzip, vlen strings (ids, attrs)
      DIR/train64.h5 the same features as f64, contiguous, fixed-length strings
      DIR/train_foreign.h5  the same features with no lt attributes at all (a
                     bare h5py export; readers infer the type from the datasets)
      DIR/test.h5    features  f64, contiguous, fixed-length strings, unbalanced
                     per-class counts, a few labels -1
      DIR/clf.h5     classifier (cosine, scale 14.5) over all classes,
                     f64 chunked+gzip, fixed-length string attributes
      DIR/clf_old.h5 classifier lacking the NEW classes (listed in DIR/new_ids.txt),
                     f32 contiguous, vlen strings
      DIR/protos_h5py.h5  prototypes computed in numpy, f64, rows in shuffled order
      DIR/model.h5   model file whose /classifier group is clf.h5's classifier
      DIR/new_ids.txt  the new class ids, comma-separated
      DIR/classes.txt  one name a line for class ids 0..max (WordNet-like)
      DIR/meta.txt   class ids and train counts, one "id count" a line
  gen.py bad DIR
      broken files for the bad-input tests (see cmd_bad() below).

Class ids are scattered and unsorted (e.g. 417, 3, 88, ...); train counts
follow the exponential long-tail profile n_max=300, n_min=4 (many, medium and
few classes); features are clustered Gaussians with a random per-sample norm.
"""

import argparse
import os
import sys

import h5py
import numpy as np

FLAVOURS = {
    # name: (float dtype, chunked+gzip?, string kind)
    "f32-chunked-vlen": ("f4", True, "vlen"),
    "f64-contig-fixed": ("f8", False, "fixed"),
    "f64-chunked-fixed": ("f8", True, "fixed"),
    "f32-contig-vlen": ("f4", False, "vlen"),
}


def put_str_attr(obj, name, value, strings):
    if strings == "fixed":
        obj.attrs[name] = np.bytes_(value)  # fixed-length ASCII string
    else:
        obj.attrs[name] = value             # h5py default: variable-length UTF-8


def header(f, lt_type, strings, version=1, version_dtype=np.int64):
    put_str_attr(f, "lt_schema", "lt-h5", strings)
    f.attrs["lt_schema_version"] = version_dtype(version)
    put_str_attr(f, "lt_type", lt_type, strings)
    put_str_attr(f, "lt_tool", "gen.py (h5py %s)" % h5py.__version__, strings)


def put_array(g, name, a, dtype, chunked):
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    if chunked and a.ndim >= 1 and a.shape[0] > 0:
        chunks = (min(64, a.shape[0]),) + a.shape[1:]
        g.create_dataset(name, data=a, chunks=chunks, compression="gzip", compression_opts=4)
    else:
        g.create_dataset(name, data=a)


def write_features(path, X, y, ids=None, flavour="f32-chunked-vlen", split="train",
                   lt_type="features", version=1, skip=()):
    fdt, chunked, strings = FLAVOURS[flavour]
    with h5py.File(path, "w") as f:
        header(f, lt_type, strings, version, np.int32 if strings == "fixed" else np.int64)
        put_str_attr(f, "split", split, strings)
        if "features" not in skip:
            put_array(f, "features", X, fdt, chunked)
        if "labels" not in skip:
            put_array(f, "labels", y, np.int64, chunked)
        if ids is not None and "ids" not in skip:
            if strings == "fixed":
                f.create_dataset("ids", data=np.array([s.encode() for s in ids], dtype="S64"))
            else:
                f.create_dataset("ids", data=np.array(ids, dtype=object),
                                 dtype=h5py.string_dtype())


def write_classifier_group(g, W, ids, counts, scale, flavour, strings, extra=None, skip=()):
    fdt, chunked, _ = FLAVOURS[flavour]
    if "weights" not in skip:
        put_array(g, "weights", W, fdt, chunked)
    if "class_ids" not in skip:
        put_array(g, "class_ids", ids, np.int64, chunked)
    if "class_counts" not in skip:
        put_array(g, "class_counts", counts, np.int64, chunked)
    put_str_attr(g, "kind", "cosine", strings)
    g.attrs["scale"] = np.float64(scale) if fdt == "f8" else np.float32(scale)
    for k, v in (extra or {}).items():
        g.attrs[k] = v


def write_classifier(path, W, ids, counts, scale=14.5, flavour="f64-chunked-fixed",
                     lt_type="classifier", version=1, skip=()):
    strings = FLAVOURS[flavour][2]
    with h5py.File(path, "w") as f:
        header(f, lt_type, strings, version)
        write_classifier_group(f, W, ids, counts, scale, flavour, strings, skip=skip)


def write_ensemble(path, members, flavour="f32-contig-vlen", rule="mean-prob"):
    """members: list of (W, ids, counts, scale)."""
    strings = FLAVOURS[flavour][2]
    with h5py.File(path, "w") as f:
        header(f, "ensemble", strings)
        put_str_attr(f, "rule", rule, strings)
        g = f.create_group("members")
        for i, (W, ids, counts, scale) in enumerate(members):
            write_classifier_group(g.create_group(str(i)), W, ids, counts, scale, flavour, strings)


def write_prototypes(path, P, ids, counts, flavour="f32-contig-vlen", skip=()):
    fdt, chunked, strings = FLAVOURS[flavour]
    with h5py.File(path, "w") as f:
        header(f, "prototypes", strings)
        f.attrs["normalized_input"] = np.int64(1)
        if "prototypes" not in skip:
            put_array(f, "prototypes", P, fdt, chunked)
        put_array(f, "class_ids", ids, np.int64, chunked)
        if "counts" not in skip:
            put_array(f, "counts", counts, np.int64, chunked)


def make_data(seed=1, dim=32, classes=24, n_max=300, n_min=4, spread=2.5):
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(1000), size=classes, replace=False)  # scattered, unsorted
    r = n_min / n_max
    profile = np.floor(n_max * r ** (np.arange(classes) / (classes - 1))).astype(np.int64)
    counts = profile[rng.permutation(classes)]   # labels are not frequency-sorted
    mu = rng.normal(size=(classes, dim))

    def sample(per_class):
        X, y = [], []
        for c in range(classes):
            m = per_class[c]
            x = mu[c] + spread * rng.normal(size=(m, dim))
            x *= rng.uniform(0.3, 3.0, size=(m, 1))  # per-sample norm: cosine ignores it
            X.append(x)
            y.append(np.full(m, ids[c]))
        X = np.concatenate(X)
        y = np.concatenate(y)
        o = rng.permutation(len(y))
        return X[o], y[o]

    Xtr, ytr = sample(counts)
    test_counts = rng.integers(3, 26, size=classes)  # unbalanced test set
    Xte, yte = sample(test_counts)
    # a few unlabelled test samples (-1): ignored by lt-eval
    Xte = np.concatenate([Xte, rng.normal(size=(5, dim))])
    yte = np.concatenate([yte, np.full(5, -1)])
    # a "trained" cosine classifier: class means, noisier for rare classes, and
    # pulled towards the head classes (the bias transfer corrects)
    head = mu[np.argsort(-counts)[:3]].mean(axis=0)
    W = mu + rng.normal(size=mu.shape) * (2.0 / np.sqrt(counts))[:, None] + 0.6 * head
    return dict(ids=ids, counts=counts, Xtr=Xtr, ytr=ytr, Xte=Xte, yte=yte, W=W, rng=rng)


def cmd_data(a):
    d = make_data(a.seed, a.dim, a.classes)
    os.makedirs(a.dir, exist_ok=True)
    J = lambda n: os.path.join(a.dir, n)  # noqa: E731
    tr_names = ["img/train/%05d.png" % i for i in range(len(d["ytr"]))]
    te_names = ["img/test/%05d.png" % i for i in range(len(d["yte"]))]
    write_features(J("train.h5"), d["Xtr"], d["ytr"], tr_names, "f32-chunked-vlen", "train")
    write_features(J("train64.h5"), d["Xtr"], d["ytr"], tr_names, "f64-contig-fixed", "train")
    with h5py.File(J("train_foreign.h5"), "w") as f:  # a bare h5py export: no lt attributes
        f["features"] = d["Xtr"].astype(np.float32)
        f["labels"] = d["ytr"]
    write_features(J("test.h5"), d["Xte"], d["yte"], te_names, "f64-contig-fixed", "test")
    write_classifier(J("clf.h5"), d["W"], d["ids"], d["counts"], 14.5, "f64-chunked-fixed")
    # new classes: three of the few-shot classes have no classifier row
    few = [i for i in np.argsort(d["counts"]) if d["counts"][i] < 20][:3]
    keep = np.array([i for i in range(len(d["ids"])) if i not in few])
    write_classifier(J("clf_old.h5"), d["W"][keep], d["ids"][keep], d["counts"][keep], 14.5,
                     "f32-contig-vlen")
    # prototypes as a user would compute them in numpy (float64, rows in a
    # shuffled class order: readers must align rows by class id)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ltref
    pr = ltref.prototypes(d["Xtr"].astype(np.float32), d["ytr"])
    o = d["rng"].permutation(len(pr.class_ids))
    write_prototypes(J("protos_h5py.h5"), pr.protos[o], pr.class_ids[o], pr.counts[o],
                     "f64-contig-fixed")
    # a model file: only its /classifier group matters to the core tools
    with h5py.File(J("model.h5"), "w") as f:
        header(f, "model", "vlen")
        f.attrs["arch"] = "resnet18"
        f.attrs["epoch"] = np.int64(3)
        f.create_group("backbone")
        write_classifier_group(f.create_group("classifier"), d["W"], d["ids"], d["counts"], 14.5,
                               "f32-chunked-vlen", "vlen")
    with open(J("new_ids.txt"), "w") as f:
        f.write(",".join(str(d["ids"][i]) for i in few) + "\n")
    with open(J("classes.txt"), "w") as f:  # line i: the name of class id i
        for c in range(int(d["ids"].max()) + 1):
            f.write("n%08d_class%d\n" % (c * 7919 % 10**8, c))
    with open(J("meta.txt"), "w") as f:
        for c, n in zip(d["ids"], d["counts"]):
            f.write("%d %d\n" % (c, n))


def cmd_bad(a):
    """Broken inputs.  Each file is valid lt-h5 except for the one defect its
    name says."""
    d = make_data(a.seed, a.dim, 8)
    os.makedirs(a.dir, exist_ok=True)
    J = lambda n: os.path.join(a.dir, n)  # noqa: E731
    X, y, W, ids, counts = d["Xtr"], d["ytr"], d["W"], d["ids"], d["counts"]
    P = np.stack([X[y == c].mean(axis=0) for c in ids])
    # good ones of this small set
    write_features(J("good_feats.h5"), X, y)
    write_classifier(J("good_clf.h5"), W, ids, counts)
    write_prototypes(J("good_protos.h5"), P, ids, counts)
    with open(J("not_hdf5.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")
    with h5py.File(J("no_schema.h5"), "w") as f:  # HDF5, but nothing lt can read
        f["data"] = X.astype("f4")
        f.create_group("misc")
    write_features(J("type_banana.h5"), X, y, lt_type="banana")
    write_features(J("feats_v2.h5"), X, y, version=2)
    write_classifier(J("clf_v2.h5"), W, ids, counts, version=2)
    write_features(J("feats_no_labels.h5"), X, y, skip=("labels",))
    write_features(J("feats_no_features.h5"), X, y, skip=("features",))
    write_classifier(J("clf_no_counts.h5"), W, ids, counts, skip=("class_counts",))
    write_classifier(J("clf_no_weights.h5"), W, ids, counts, skip=("weights",))
    write_prototypes(J("protos_no_counts.h5"), P, ids, counts, skip=("counts",))
    write_features(J("feats_short_labels.h5"), X, y[:-1])        # N vs N-1
    write_features(J("feats_1d.h5"), X[:, 0], y)                 # features not 2-D
    # float labels that are not whole numbers (HDF5 itself would truncate them)
    write_features(J("feats_fractional_labels.h5"), X, y, skip=("labels",))
    with h5py.File(J("feats_fractional_labels.h5"), "a") as f:
        f["labels"] = np.where(np.arange(len(y)) == 7, 8.999999, y.astype(np.float64))
    # image paths for one row fewer than the features
    write_features(J("feats_short_ids.h5"), X, y, ids=["img/%d.png" % i for i in range(len(y) - 1)])
    write_classifier(J("clf_short_ids.h5"), W, ids[:-1], counts[:-1])  # C vs C-1 rows
    write_classifier(J("clf_short_counts.h5"), W, ids, counts[:-1])
    write_prototypes(J("protos_short_counts.h5"), P, ids, counts[:-1])
    D = X.shape[1]
    write_features(J("feats_dim_plus1.h5"), np.hstack([X, X[:, :1]]), y)
    write_classifier(J("clf_dim_plus1.h5"), np.hstack([W, W[:, :1]]), ids, counts)
    write_prototypes(J("protos_dim_plus1.h5"), np.hstack([P, P[:, :1]]), ids, counts)
    Xn = X.copy(); Xn[3, 2] = np.nan
    write_features(J("feats_nan.h5"), Xn, y)
    Xi = X.copy(); Xi[5, 0] = np.inf
    write_features(J("feats_inf.h5"), Xi, y, flavour="f64-contig-fixed")
    Wn = W.copy(); Wn[1, 1] = np.nan
    write_classifier(J("clf_nan.h5"), Wn, ids, counts)
    Wi = W.copy(); Wi[0, 0] = -np.inf
    write_classifier(J("clf_inf.h5"), Wi, ids, counts, flavour="f32-contig-vlen")
    Pn = P.copy(); Pn[2, 3] = np.nan
    write_prototypes(J("protos_nan.h5"), Pn, ids, counts)
    write_features(J("feats_empty.h5"), np.zeros((0, D)), np.zeros(0, dtype=np.int64))
    dup = ids.copy(); dup[1] = dup[0]
    write_classifier(J("clf_dup_ids.h5"), W, dup, counts)
    write_prototypes(J("protos_dup_ids.h5"), P, dup, counts)
    # --counts file lacking a test label: the classifier without its first class
    write_classifier(J("counts_lacking.h5"), W[1:], ids[1:], counts[1:])
    # ensemble members that disagree
    write_ensemble(J("ens_other_ids.h5"), [(W, ids, counts, 16.0), (W, ids + 1000, counts, 16.0)])
    write_ensemble(J("ens_other_dim.h5"), [(W, ids, counts, 16.0),
                                           (np.hstack([W, W[:, :1]]), ids, counts, 16.0)])
    write_classifier(J("clf_other_ids.h5"), W, ids + 1000, counts)
    # members that disagree on the training counts (the shot groups), and a
    # combination rule lt does not have
    other_counts = counts.copy(); other_counts[1] += 1
    write_ensemble(J("ens_other_counts.h5"), [(W, ids, counts, 16.0), (W, ids, other_counts, 16.0)])
    write_classifier(J("clf_other_counts.h5"), W, ids, other_counts)
    write_ensemble(J("ens_rule_max.h5"), [(W, ids, counts, 16.0), (W, ids, counts, 16.0)], rule="max")
    # damaged files: cut short, zero bytes
    for good, cut in (("good_feats.h5", "feats_truncated.h5"), ("good_clf.h5", "clf_truncated.h5")):
        with open(J(good), "rb") as f:
            data = f.read()
        with open(J(cut), "wb") as f:
            f.write(data[: len(data) * 3 // 5])
    open(J("empty.h5"), "wb").close()
    # a header claiming far more data than the file holds (8 TiB of labels)
    with h5py.File(J("feats_huge_claim.h5"), "w") as f:
        header(f, "features", "vlen")
        put_array(f, "features", X, "f4", False)
        f.create_dataset("labels", shape=(2 ** 40,), dtype="i8")
    # a class without samples, a class with none in the classifier
    zero = counts.copy(); zero[2] = 0
    write_prototypes(J("protos_zero_count.h5"), P, ids, zero)
    # counts whose sum over two copies passes 2^63 - 1
    write_prototypes(J("protos_huge_count.h5"), P, ids, np.full_like(counts, 2 ** 62))
    write_classifier(J("clf_no_classes.h5"), W[:0], ids[:0], counts[:0])
    neg = ids.copy(); neg[4] = -3
    write_classifier(J("clf_negative_id.h5"), W, neg, counts)
    # features files with a defect only their header shows (the label
    # histogram readers, --counts, must refuse them as the feature readers do)
    write_features(J("feats_label_minus2.h5"), X, np.where(np.arange(len(y)) == 3, -2, y))
    write_features(J("feats_labels_row.h5"), X, y[None, :])           # labels [1, N]
    write_features(J("feats_3d.h5"), X[:, :, None], y)                # features [N, D, 1]
    write_features(J("feats_dim0.h5"), X[:, :0], y, flavour="f32-contig-vlen")  # D = 0
    write_features(J("feats_group.h5"), X, y, skip=("features",))     # /features a group
    with h5py.File(J("feats_group.h5"), "a") as f:
        f.create_group("features")
    write_features(J("feats_dangling.h5"), X, y, skip=("features",))
    with h5py.File(J("feats_dangling.h5"), "a") as f:                 # a soft link to nothing
        f["features"] = h5py.SoftLink("/nowhere/features")
    # float64 values beyond float32's range
    Xo = X.astype(np.float64); Xo[1, 1] = 1e300
    write_features(J("feats_f64_overflow.h5"), Xo, y, flavour="f64-contig-fixed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--classes", type=int, default=24)
    p = sub.add_parser("bad")
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--dim", type=int, default=16)
    a = ap.parse_args()
    {"data": cmd_data, "bad": cmd_bad}[a.cmd](a)


if __name__ == "__main__":
    main()

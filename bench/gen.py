#!/usr/bin/env python3
"""Synthetic lt-h5 inputs for the benchmarks, written in row blocks with h5py.

  gen.py OUTDIR --classes C --dim D --train NTR --test NTE
         [--imbalance R | --n-max M] [--noise S] [--seed N]

writes OUTDIR/train.h5, OUTDIR/test.h5 (features, f32 chunked by rows,
labels i64) and OUTDIR/clf.h5 (a cosine classifier, scale 16, class_counts =
the train counts). --train 0 skips train.h5 (the counts are still those of
the profile of --profile-rows, default 20 C).

Train counts follow the exponential profile n_i = floor(n_max r^(i/(C-1))),
at least 1 (every class needs a prototype), given to the class ids through a
seeded permutation. Two of n_max, r = 1/R and NTR fix the third: with
--imbalance R (default 256, ImageNet-LT's 1280/5) n_max is solved so that the
counts add up to NTR; with --n-max the imbalance is solved instead (useful
when NTR/C is small but the benchmark needs classes with n > k). The largest
class absorbs the rounding, so train.h5 has exactly NTR rows.

Features are class means plus Gaussian noise, x = mu_y + S g / sqrt(D), with
unit-norm-ish means mu; S (default 0.9 sqrt(D / (2 ln C))) puts a
nearest-mean classifier at a middling accuracy for any C and D. The
classifier's rows are mu_c + 1.5 S g / sqrt(D n_c): well estimated for
frequent classes, poorly for rare ones, as a trained classifier is, so the
many/medium/few accuracies differ the way real ones do. Test labels are
balanced (NTE // C per class, the rest spread), in shuffled order.
Memory stays at a few blocks plus the [C, D] means, whatever NTR.
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np

BLOCK_BYTES = 64 << 20  # rows generated and written at a time
CHUNK_BYTES = 1 << 20  # HDF5 chunk of the features dataset


def profile(n_max, log_imbalance, classes):
    x = np.arange(classes) / max(classes - 1, 1)
    return np.maximum(1, np.floor(n_max * np.exp(-log_imbalance * x))).astype(np.int64)


def solve_counts(classes, rows, imbalance, n_max):
    """Counts of the profile adding up to rows (bisection on the free parameter)."""
    if rows < classes:
        sys.exit(f"gen.py: --train {rows} < --classes {classes}: every class needs a sample")
    if n_max is not None:
        if profile(n_max, 0.0, classes).sum() < rows:
            sys.exit(f"gen.py: --n-max {n_max} cannot reach {rows} rows over {classes} classes")
        lo, hi = 0.0, 1e4  # log imbalance; larger = steeper
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if profile(n_max, mid, classes).sum() > rows else (lo, mid)
        counts = profile(n_max, hi, classes)
    else:
        log_r = math.log(imbalance)
        lo, hi = 1.0, float(rows)
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if profile(mid, log_r, classes).sum() < rows else (lo, mid)
        counts = profile(lo, log_r, classes)
    counts[0] += rows - counts.sum()  # the head class absorbs the rounding
    return counts


def lt_attrs(f, kind):
    f.attrs["lt_schema"] = "lt-h5"
    f.attrs["lt_schema_version"] = 1
    f.attrs["lt_type"] = kind
    f.attrs["lt_tool"] = "bench/gen.py"


def write_features(path, labels, means, noise, rng):
    n, (c, d) = len(labels), means.shape
    block = max(1, BLOCK_BYTES // (4 * d))
    with h5py.File(path + ".tmp", "w") as f:
        lt_attrs(f, "features")
        x = f.create_dataset("features", (n, d), "f4", chunks=(max(1, min(n, CHUNK_BYTES // (4 * d))), d))
        for start in range(0, n, block):
            y = labels[start:start + block]
            g = rng.standard_normal((len(y), d), dtype=np.float32)
            g *= np.float32(noise / math.sqrt(d))
            g += means[y]
            x[start:start + len(y)] = g
        f["labels"] = labels
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--classes", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--train", type=int, required=True)
    ap.add_argument("--test", type=int, required=True)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--imbalance", type=float, default=256.0)
    group.add_argument("--n-max", type=int)
    ap.add_argument("--profile-rows", type=int, help="rows the profile adds up to when --train is 0")
    ap.add_argument("--noise", type=float)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    c, d = a.classes, a.dim
    if c < 2 or d < 1:
        sys.exit("gen.py: need --classes >= 2 and --dim >= 1")
    noise = a.noise if a.noise is not None else 0.9 * math.sqrt(d / (2 * math.log(c)))
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(a.seed).spawn(5)]
    os.makedirs(a.outdir, exist_ok=True)

    # Profile counts by rank, given to class ids in a seeded order.
    rows = a.train or a.profile_rows or 20 * c
    by_rank = solve_counts(c, rows, a.imbalance, a.n_max)
    counts = np.empty(c, np.int64)
    counts[streams[0].permutation(c)] = by_rank
    means = streams[1].standard_normal((c, d), dtype=np.float32)
    means /= np.linalg.norm(means, axis=1, keepdims=True)

    if a.train > 0:
        labels = np.repeat(np.arange(c, dtype=np.int64), counts)
        streams[2].shuffle(labels)
        write_features(os.path.join(a.outdir, "train.h5"), labels, means, noise, streams[2])
    if a.test > 0:
        labels = np.arange(a.test, dtype=np.int64) % c
        streams[3].shuffle(labels)
        write_features(os.path.join(a.outdir, "test.h5"), labels, means, noise, streams[3])

    path = os.path.join(a.outdir, "clf.h5")
    with h5py.File(path + ".tmp", "w") as f:
        lt_attrs(f, "classifier")
        f.attrs["kind"] = "cosine"
        f.attrs["scale"] = 16.0
        w = f.create_dataset("weights", (c, d), "f4")
        block = max(1, BLOCK_BYTES // (4 * d))
        for start in range(0, c, block):
            stop = min(c, start + block)
            g = streams[4].standard_normal((stop - start, d), dtype=np.float32)
            g *= (1.5 * noise / np.sqrt(d * counts[start:stop])).astype(np.float32)[:, None]
            w[start:stop] = means[start:stop] + g
        f["class_ids"] = np.arange(c, dtype=np.int64)
        f["class_counts"] = counts
    os.replace(path + ".tmp", path)

    many, few = int((counts > 100).sum()), int((counts < 20).sum())
    print(f"gen.py: C={c} D={d} train={a.train if a.train else 0} test={a.test} n_max={by_rank[0]} "
          f"n_min={by_rank[-1]} classes many/medium/few={many}/{c - many - few}/{few} noise={noise:.3g}",
          file=sys.stderr)


if __name__ == "__main__":
    main()

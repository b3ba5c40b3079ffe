#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

  /usr/bin/python3 fuzz/seeds.py [--lt-bin build/bin]

Small valid inputs in every layout the readers accept (h5py flavours from
tests/ref/gen.py: float32/float64, contiguous/chunked+gzip, fixed/vlen
strings, with and without lt attributes) and, with --lt-bin, files written by
lt's own tools. Seeds are tiny on purpose: libFuzzer mutates faster.
"""

import argparse
import gzip
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import gen  # noqa: E402
import h5py  # noqa: E402


def folder(target):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    return path


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lt-bin", help="folder of the lt tools, for lt-written seeds")
    args = parser.parse_args()
    rng = np.random.default_rng(7)

    # ---- list files
    lists = {
        "plain.txt": "train/0/a.png 0\ntrain/1/b.png 1\ntrain/2/c.png 2\n",
        "crlf.txt": "a b/c.png 3\r\nd.jpg\t12\r\n\r\n",
        "bom.txt": "\ufeffimg/x.png 0\n  img/y.png   7  \n",
    }
    for name, text in lists.items():
        with open(os.path.join(folder("fuzz_list"), name), "w", newline="") as f:
            f.write(text)

    # ---- IDX, plain and gzip
    images = rng.integers(0, 256, size=(2, 3, 3))
    labels = np.array([4, 9])
    out = folder("fuzz_idx")
    for name, array in (("images.idx", images), ("labels.idx", labels)):
        with open(os.path.join(out, name), "wb") as f:
            f.write(idx_bytes(array))
        with open(os.path.join(out, name + ".gz"), "wb") as f:
            f.write(gzip.compress(idx_bytes(array), mtime=0))

    # ---- lt-h5: 3 classes (ids scattered), dimension 4
    X = rng.normal(size=(6, 4))
    y = np.array([5, 5, 2, 9, 9, 9])
    ids = np.array([9, 2, 5])
    counts = np.array([3, 1, 2])
    W = rng.normal(size=(3, 4))
    for flavour in gen.FLAVOURS:
        gen.write_features(os.path.join(folder("fuzz_h5_features"), flavour + ".h5"), X, y,
                           ["a", "b", "c", "d", "e", "f"], flavour)
        gen.write_classifier(os.path.join(folder("fuzz_h5_classifier"), flavour + ".h5"), W, ids, counts,
                             flavour=flavour)
        gen.write_prototypes(os.path.join(folder("fuzz_h5_prototypes"), flavour + ".h5"), W, ids, counts,
                             flavour=flavour)
        gen.write_ensemble(os.path.join(folder("fuzz_h5_ensemble"), flavour + ".h5"),
                           [(W, ids, counts, 16.0), (W[::-1], ids[::-1], counts[::-1], 12.0)], flavour)
    # a bare export without lt attributes, and a model's /classifier group
    with h5py.File(os.path.join(folder("fuzz_h5_features"), "foreign.h5"), "w") as f:
        f["features"] = X.astype("f4")
        f["labels"] = y
    with h5py.File(os.path.join(folder("fuzz_h5_classifier"), "model.h5"), "w") as f:
        gen.header(f, "model", "vlen")
        gen.write_classifier_group(f.create_group("classifier"), W, ids, counts, 16.0, "f32-contig-vlen", "vlen")

    if args.lt_bin:
        tool = lambda name: os.path.join(args.lt_bin, name)  # noqa: E731
        env = dict(os.environ, LT_PROVENANCE="fixed")
        features = os.path.join(folder("fuzz_h5_features"), "f32-chunked-vlen.h5")
        protos = os.path.join(folder("fuzz_h5_prototypes"), "lt-protos.h5")
        classifier = os.path.join(folder("fuzz_h5_classifier"), "lt-attend.h5")
        run = lambda *cmd: subprocess.run(cmd, check=True, env=env)  # noqa: E731
        run(tool("lt-protos"), features, "-o", protos)
        run(tool("lt-attend"), "--classifier", os.path.join(folder("fuzz_h5_classifier"), "f32-contig-vlen.h5"),
            "--protos", protos, "-k", "1", "-o", classifier)
        run(tool("lt-ensemble"), classifier, protos, "-o", os.path.join(folder("fuzz_h5_ensemble"), "lt-ensemble.h5"))


if __name__ == "__main__":
    main()

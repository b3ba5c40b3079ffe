#!/usr/bin/env python3
"""Prints an HDF5 file as text for the golden CLI tests (tests/cli/golden.sh).

  h5_golden.py [--structure] FILE

Every group and dataset in name order with its attributes; a dataset's dtype
and shape, and its values: all of them when there are at most 48, else the
first 16 and the sum. Floats are printed with 4 significant digits, so that
the last bits a BLAS kernel may change do not show. --structure leaves out the
values of float datasets (a trained network's weights, extracted features),
which depend on the machine's kernels beyond 4 digits, and the hashes of
such values (a features file's weights_hash).
"""

import sys

import h5py
import numpy as np


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def values(array, floats):
    flat = array.reshape(-1)
    if flat.dtype.kind == "f" and not floats:
        return None
    shown = flat if flat.size <= 48 else flat[:16]
    line = " ".join(text(v) for v in shown.tolist())
    if flat.size > 48:
        total = flat.astype(np.float64).sum() if flat.dtype.kind in "fiu" else None
        line += f" ... ({flat.size} values" + (f", sum {total:.4g})" if total is not None else ")")
    return line


def attributes(obj, indent, floats=True):
    for name in sorted(obj.attrs):
        value = obj.attrs[name]
        if not floats and name == "weights_hash":
            value = "(a hash of float weights: not shown)"
        if isinstance(value, np.ndarray):
            value = " ".join(text(v) for v in value.reshape(-1).tolist())
        print(f"{indent}@{name} = {text(value)}")


def main():
    args = sys.argv[1:]
    floats = True
    if args and args[0] == "--structure":
        floats, args = False, args[1:]
    with h5py.File(args[0], "r") as f:
        print("/")
        attributes(f, "  ", floats)
        names = []
        f.visit(names.append)
        for name in sorted(names):
            obj = f[name]
            depth = "  " * name.count("/")
            if isinstance(obj, h5py.Group):
                print(f"{depth}/{name}/")
                attributes(obj, depth + "  ", floats)
                continue
            print(f"{depth}/{name}: {obj.dtype} {list(obj.shape)}")
            attributes(obj, depth + "  ", floats)
            shown = values(np.asarray(obj[()]), floats)
            if shown is not None:
                print(f"{depth}  = {shown}")


main()

#!/usr/bin/env python3
"""Agreement of lt's outputs with the peer's, for the benchmarks.

  compare.py h5 A.h5 B.h5 [--tol 1e-5]    every dataset (recursively) and the
      method's attributes; floats within tol (absolute), integers and strings equal
  compare.py tsv A.tsv B.tsv [--tol 0]    same shape; numeric cells within tol
      (nan equals nan), other cells equal

Prints one line, "ok ..." or "DIFF ...", and exits 1 on a difference.
"""

import argparse
import math
import sys

import h5py
import numpy as np

ATTRS = ("lt_type", "kind", "scale", "mode", "k", "tau", "terms", "normalized_input", "rule")


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def norm_attr(v):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return float(v) if isinstance(v, (int, float, np.number)) else v


def compare_h5(a, b, tol):
    worst, problems = 0.0, []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        groups = {""}
        fa.visititems(lambda n, o: groups.add(n) if isinstance(o, h5py.Group) else None)
        for g in sorted(groups):
            ga, gb = (fa[g], fb[g]) if g else (fa, fb)
            for key in ATTRS:
                va, vb = ga.attrs.get(key), gb.attrs.get(key)
                if va is None and vb is None:
                    continue
                if (va is None) != (vb is None) or norm_attr(va) != norm_attr(vb):
                    problems.append(f"attribute {g}/{key}: {va!r} vs {vb!r}")
        da, db = datasets(fa), datasets(fb)
        for name in sorted(set(da) | set(db)):
            if name not in da or name not in db:
                problems.append(f"/{name} only in {'A' if name in da else 'B'}")
                continue
            x, y = da[name][()], db[name][()]
            if x.shape != y.shape:
                problems.append(f"/{name} shape {x.shape} vs {y.shape}")
            elif x.dtype.kind == "f" or y.dtype.kind == "f":
                d = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
                worst = max(worst, d)
                if not d <= tol:
                    problems.append(f"/{name} max |diff| {d:.3g} > {tol:g}")
            elif not np.array_equal(x, y):
                problems.append(f"/{name} differs in {int(np.sum(x != y))} entries")
    return worst, problems


def cells(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def compare_tsv(a, b, tol):
    ta, tb = cells(a), cells(b)
    worst, problems = 0.0, []
    if len(ta) != len(tb):
        problems.append(f"{len(ta)} vs {len(tb)} lines")
    for n, (ra, rb) in enumerate(zip(ta, tb), 1):
        if len(ra) != len(rb):
            problems.append(f"line {n}: {len(ra)} vs {len(rb)} fields")
            continue
        for ca, cb in zip(ra, rb):
            try:
                x, y = float(ca), float(cb)
            except ValueError:
                if ca != cb:
                    problems.append(f"line {n}: {ca!r} vs {cb!r}")
                continue
            if math.isnan(x) and math.isnan(y):
                continue
            d = abs(x - y)
            worst = max(worst, d)
            if not d <= tol:
                problems.append(f"line {n}: {ca} vs {cb}")
    return worst, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("h5", "tsv"))
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    tol = a.tol if a.tol is not None else (1e-5 if a.kind == "h5" else 0.0)
    worst, problems = (compare_h5 if a.kind == "h5" else compare_tsv)(a.a, a.b, tol)
    label = a.label or f"{a.a} ~ {a.b}"
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        print(f"DIFF {label}: {'; '.join(problems[:3])}{more}")
        sys.exit(1)
    print(f"ok   {label} (max |diff| {worst:.2g}, tol {tol:g})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The NumPy peer of lt's training-free tools, for the benchmarks in bench/.

What a practitioner would write instead of lt, from the method's equations
(docs/method.md): one short program, vectorised, in row blocks so that
memory stays bounded at C = 100,000 classes (PEER_BLOCK_MB, default 256, is
the budget of one block's [rows, C] scores), float32 matrix products, float64
prototype sums and softmax normalisers. It reads and writes lt-h5 files.

  peer.py protos FEATS OUT                      prototypes (Eq. 3)
  peer.py attend CLF PROTOS -k LIST [--tau T] -o PATTERN
                                                w^h(k) (Eq. 4-7, p2w, terms kt,p,w)
                                                for every k; PATTERN holds {k}
  peer.py ensemble MEMBER... -o OUT             mean-of-probabilities ensemble (Eq. 8)
  peer.py eval FEATS CLF... [--names A,B]       many/medium/few/total (TSV)
  peer.py sweep TRAIN TEST CLF -k LIST          protos + attend + eval, one TSV row per k
  peer.py mismatch CLF PROTOS                   supplementary Table 3
  peer.py sharpness CLF PROTOS                  supplementary Fig. 4
  peer.py neighbours CLF PROTOS -n N [--tau T]  supplementary Fig. 3 (k = 0)

Outputs are printed in lt-compat's / lt-eval --format tsv's layout so they
can be compared. Step timings go to standard error as "time<TAB>step<TAB>s".
"""

import argparse
import os
import sys
import time

import h5py
import numpy as np

VERSION = "peer 1"
BUDGET = int(os.environ.get("PEER_BLOCK_MB", "256")) << 20
MANY, FEW = 100, 20


def block_rows(columns, arrays=3, cap=8192):
    """Rows per block so that `arrays` float32 [rows, columns] arrays fit the budget."""
    return int(max(16, min(cap, BUDGET // max(1, 4 * columns * arrays))))


def unit(x):
    """Rows scaled to unit L2 norm (zero rows stay zero), in place for float arrays."""
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))
    x /= np.maximum(norm, 1e-12)[:, None]
    return x


def clock(step, start):
    print(f"time\t{step}\t{time.perf_counter() - start:.4f}", file=sys.stderr)


def fmt(value):
    """A double as lt prints it (fmt's shortest round trip: 50, not 50.0)."""
    if value != value:
        return "nan"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# ----------------------------------------------------------------- lt-h5 I/O

def read_group(g, path):
    """One classifier from an lt-h5 group: dict of weights, ids, counts, scale, kind, bias."""
    if "prototypes" in g:
        return dict(weights=np.asarray(g["prototypes"], np.float32), ids=g["class_ids"][:].astype(np.int64),
                    counts=g["counts"][:].astype(np.int64), scale=16.0, kind="cosine", bias=None)
    kind = g.attrs.get("kind", "cosine")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    c = dict(weights=np.asarray(g["weights"], np.float32), ids=g["class_ids"][:].astype(np.int64),
             counts=g["class_counts"][:].astype(np.int64), scale=float(g.attrs.get("scale", 16.0)),
             kind=kind, bias=np.asarray(g["bias"], np.float32) if "bias" in g else None)
    c.update({key: g.attrs[key] for key in ("mode", "k", "tau", "terms") if key in g.attrs})
    return c


def read_members(path):
    """Leaf classifiers of a classifier, prototypes, model or (nested) ensemble file."""
    def walk(g):
        if "members" in g:
            for key in sorted(g["members"], key=int):
                yield from walk(g["members"][key])
        elif "classifier" in g and "weights" not in g:
            yield read_group(g["classifier"], path)
        else:
            yield read_group(g, path)
    with h5py.File(path, "r") as f:
        return list(walk(f))


def read_prototypes(path):
    with h5py.File(path, "r") as f:
        return read_group(f, path)


def open_output(path, kind):
    f = h5py.File(path + ".tmp", "w")
    f.attrs["lt_schema"] = "lt-h5"
    f.attrs["lt_schema_version"] = 1
    f.attrs["lt_type"] = kind
    f.attrs["lt_tool"] = "bench/peer.py"
    return f


def close_output(f, path):
    f.close()
    os.replace(path + ".tmp", path)


def put_classifier(g, c):
    g.attrs["kind"] = c["kind"]
    g.attrs["scale"] = float(c["scale"])
    for key in ("mode", "k", "tau", "terms"):
        if key in c:
            g.attrs[key] = c[key]
    g["weights"] = c["weights"]
    g["class_ids"] = c["ids"]
    g["class_counts"] = c["counts"]
    if c.get("bias") is not None:
        g["bias"] = c["bias"]


def parse_ks(text):
    ks = [int(k) for k in text.split(",")]
    if any(k < 0 for k in ks):
        sys.exit("peer.py: -k must be >= 0")
    return ks


# -------------------------------------------------------------- prototypes

def prototypes(path):
    """Eq. 3: p_i = mean over class i of x / |x|, summed in float64, in row blocks."""
    with h5py.File(path, "r") as f:
        x, labels = f["features"], f["labels"][:].astype(np.int64)
        ids, index = np.unique(labels[labels >= 0], return_inverse=True)
        rows = np.full(len(labels), -1, np.int64)
        rows[labels >= 0] = index
        sums = np.zeros((len(ids), x.shape[1]), np.float64)
        step = block_rows(x.shape[1], arrays=4, cap=1 << 16)
        for start in range(0, len(labels), step):
            block = unit(np.asarray(x[start:start + step], np.float32))
            r = rows[start:start + step]
            order = np.argsort(r, kind="stable")
            order = order[r[order] >= 0]
            if len(order) == 0:
                continue
            sorted_r = r[order]
            first = np.r_[True, sorted_r[1:] != sorted_r[:-1]]
            at = np.arange(len(order))
            rank = at - np.maximum.accumulate(np.where(first, at, 0))  # position within its class
            if rank.max() < 64:  # shuffled rows: a few scatter-adds of rows of distinct classes
                for j in range(rank.max() + 1):
                    pick = order[rank == j]
                    sums[r[pick]] += block[pick]
            else:  # rows sorted by class: long runs, one sum per run
                first = np.flatnonzero(first)
                sums[sorted_r[first]] += np.add.reduceat(block[order].astype(np.float64), first, axis=0)
    counts = np.bincount(index, minlength=len(ids)).astype(np.int64)
    return dict(weights=(sums / counts[:, None]).astype(np.float32), ids=ids.astype(np.int64), counts=counts)


def write_prototypes(p, path):
    f = open_output(path, "prototypes")
    f.attrs["normalized_input"] = 1
    f["prototypes"] = p["weights"]
    f["class_ids"] = p["ids"]
    f["counts"] = p["counts"]
    close_output(f, path)


# --------------------------------------------------------------- attention

def aligned_units(clf, protos):
    """Unit classifier rows and prototypes in one class order (both inputs' classes)."""
    if clf["weights"].shape[1] != protos["weights"].shape[1]:
        sys.exit("peer.py: dimension mismatch between the classifier and the prototypes")
    if not np.array_equal(np.sort(clf["ids"]), np.sort(protos["ids"])):
        sys.exit("peer.py: kt,p,w needs a classifier row and a prototype for every class")
    wo, po = np.argsort(clf["ids"]), np.argsort(protos["ids"])
    return clf["ids"][wo], clf["counts"][wo], unit(clf["weights"][wo].copy()), unit(protos["weights"][po].copy())


def compose(clf, protos, ks, tau, sink):
    """Eq. 4-7: for each row block of queries p_i, the cosines to the sources
    once, then for every k the softmax over S(k) = {j : n_j > k} and the row
    normalize(sum_j alpha_ij w_j) + p_i + w_i. Sources are ordered by count,
    most first, so every S(k) is a prefix of the same score matrix.
    sink(k, rows, block) receives the composed rows."""
    ids, counts, w, p = aligned_units(clf, protos)
    order = np.argsort(-counts, kind="stable")
    src_counts = counts[order]
    prefix = {k: int((src_counts > k).sum()) for k in ks}
    for k, m in prefix.items():
        if m == 0:
            sys.exit(f"peer.py: -k {k} leaves no source class (largest count {counts.max()})")
    sources = w[order[:max(prefix.values())]]
    dtype = np.float32 if tau <= 1e3 else np.float64  # a huge tau overflows float32
    step = block_rows(len(sources), arrays=3)
    for start in range(0, len(ids), step):
        q = p[start:start + step]
        scores = q @ sources.T                                # float32 cosines [B, |S|]
        base = q + w[start:start + step]
        for k in ks:
            s = scores[:, :prefix[k]].astype(dtype)
            s -= s.max(axis=1, keepdims=True)
            s *= dtype(tau)
            np.exp(s, out=s)
            z = s.sum(axis=1, dtype=np.float64)               # softmax normaliser in float64
            s *= (1.0 / z).astype(dtype)[:, None]             # alpha_ij
            kt = unit((s @ sources[:prefix[k]].astype(dtype, copy=False)).astype(np.float32))
            kt += base
            sink(k, slice(start, start + len(q)), kt)
    return ids, counts


def composed_attrs(clf, k, tau):
    return dict(kind="cosine", scale=clf["scale"] if clf["kind"] == "cosine" else 16.0,
                mode="p2w", k=str(k), tau=fmt(tau), terms="kt,p,w")


def cmd_attend(a):
    clf, protos, ks = read_members(a.classifier)[0], read_prototypes(a.protos), parse_ks(a.k)
    if len(ks) > 1 and "{k}" not in a.output:
        sys.exit("peer.py: several k need an -o pattern with {k}")
    t = time.perf_counter()
    files, dims = {}, clf["weights"].shape
    n = len(np.union1d(clf["ids"], protos["ids"]))
    for k in ks:
        path = a.output.replace("{k}", str(k))
        f = open_output(path, "classifier")
        c = composed_attrs(clf, k, a.tau)
        for key, value in c.items():
            f.attrs[key] = value
        files[k] = (f, path, f.create_dataset("weights", (n, dims[1]), "f4"))

    def sink(k, rows, block):
        files[k][2][rows] = block
    ids, counts = compose(clf, protos, ks, a.tau, sink)
    for f, path, _ in files.values():
        f["class_ids"] = ids
        f["class_counts"] = counts
        close_output(f, path)
    clock("attend", t)


# -------------------------------------------------------------- evaluation

class Scorer:
    """A classifier set ready to score unit features: member weights aligned to member 0's classes."""

    def __init__(self, members, name):
        self.name, first = name, members[0]
        self.ids, self.counts = first["ids"], dict(zip(first["ids"].tolist(), first["counts"].tolist()))
        column = {c: j for j, c in enumerate(first["ids"].tolist())}
        self.members = []
        for m in members:
            order = np.argsort([column[c] for c in m["ids"].tolist()])
            same = np.array_equal(order, np.arange(len(order)))
            w = m["weights"] if same else m["weights"][order]
            cosine = m["kind"] == "cosine"
            bias = None if cosine else (m["bias"] if same else m["bias"][order])
            self.members.append((cosine, m["scale"], unit(w.copy()) if cosine else w, bias))

    def logits(self, member, unit_x, raw_x):
        cosine, _, w, bias = member
        return unit_x @ w.T if cosine else raw_x @ w.T + bias

    def predict(self, unit_x, raw_x):
        """Predicted column of every row: argmax of the logits, or of the mean of
        softmax probabilities for an ensemble (Eq. 8)."""
        if len(self.members) == 1:
            return np.argmax(self.logits(self.members[0], unit_x, raw_x), axis=1)
        mean = None
        for member in self.members:
            p = self.logits(member, unit_x, raw_x)
            if member[0]:
                p *= np.float32(member[1])
            p -= p.max(axis=1, keepdims=True)
            np.exp(p, out=p)
            p *= (1.0 / p.sum(axis=1, dtype=np.float64)).astype(np.float32)[:, None]
            mean = p if mean is None else np.add(mean, p, out=mean)
        return np.argmax(mean, axis=1)


def evaluate(test_path, scorers):
    """Top-1 of every scorer over the test features, read and normalised once per row block.
    Returns one TSV row per scorer: many / medium / few (mean of per-class accuracy) / total."""
    with h5py.File(test_path, "r") as f:
        x, labels = f["features"], f["labels"][:].astype(np.int64)
        classes, label_index = np.unique(labels[labels >= 0], return_inverse=True)
        lab_rows = np.full(len(labels), -1, np.int64)
        lab_rows[labels >= 0] = label_index
        correct = [np.zeros(len(classes), np.int64) for _ in scorers]
        widest = max(len(s.ids) for s in scorers)
        step = block_rows(widest, arrays=2 + max(len(s.members) > 1 for s in scorers))
        for start in range(0, len(labels), step):
            raw = np.asarray(x[start:start + step], np.float32)
            ux = unit(raw.copy())
            y, r = labels[start:start + step], lab_rows[start:start + step]
            keep = r >= 0
            for s, tally in zip(scorers, correct):
                hit = (s.ids[s.predict(ux, raw)] == y) & keep
                tally += np.bincount(r[hit], minlength=len(classes))
    samples = np.bincount(label_index, minlength=len(classes))
    rows = []
    for s, tally in zip(scorers, correct):
        groups = ([], [], [])
        for c, hit, n in zip(classes.tolist(), tally.tolist(), samples.tolist()):
            if c in s.counts:
                train = s.counts[c]
                groups[0 if train > MANY else 2 if train < FEW else 1].append(100.0 * hit / n)
        means = [sum(g) / len(g) if g else float("nan") for g in groups]  # in class id order, as lt
        rows.append([s.name] + means + [100.0 * int(tally.sum()) / int(samples.sum())])
    return rows


def print_tsv(rows):
    print("name\tmany\tmedium\tfew\ttotal")
    for r in rows:
        print("\t".join([r[0]] + [fmt(v) for v in r[1:]]))


def cmd_eval(a):
    names = a.names.split(",") if a.names else [os.path.basename(p) for p in a.classifiers]
    t = time.perf_counter()
    scorers = [Scorer(read_members(p), n) for p, n in zip(a.classifiers, names)]
    print_tsv(evaluate(a.features, scorers))
    clock("eval", t)


def cmd_ensemble(a):
    members = [m for path in a.members for m in read_members(path)]
    if len({tuple(np.sort(m["ids"])) for m in members}) != 1:
        sys.exit("peer.py: ensemble members need the same class ids")
    f = open_output(a.output, "ensemble")
    f.attrs["rule"] = "mean-prob"
    for i, m in enumerate(members):
        put_classifier(f.create_group(f"members/{i}"), m)
    close_output(f, a.output)


def cmd_protos(a):
    t = time.perf_counter()
    write_prototypes(prototypes(a.features), a.output)
    clock("protos", t)


def cmd_sweep(a):
    """The k sweep in one process: prototypes, w^h(k) for every k (kept in memory), one evaluation."""
    ks = parse_ks(a.k)
    t = time.perf_counter()
    protos = prototypes(a.train)
    clock("protos", t)
    t = time.perf_counter()
    clf = read_members(a.classifier)[0]
    n, d = len(clf["ids"]), clf["weights"].shape[1]
    out = {k: np.empty((n, d), np.float32) for k in ks}

    def sink(k, rows, block):
        out[k][rows] = block
    ids, counts = compose(clf, protos, ks, a.tau, sink)
    clock("attend", t)
    t = time.perf_counter()
    scorers = [Scorer([dict(weights=out[k], ids=ids, counts=counts, scale=clf["scale"], kind="cosine")], f"k={k}")
               for k in ks]
    print_tsv(evaluate(a.test, scorers))
    clock("eval", t)


# ---------------------------------------------------------------- analyses

def units_pw(a):
    clf, protos = read_members(a.classifier)[0], read_prototypes(a.protos)
    if clf["weights"].shape[1] != protos["weights"].shape[1]:
        sys.exit("peer.py: dimension mismatch between the classifier and the prototypes")
    po = np.argsort(protos["ids"])
    wo = np.argsort(clf["ids"])
    return (protos["ids"][po], unit(protos["weights"][po].copy()),
            clf["ids"][wo], unit(clf["weights"][wo].copy()))


def cmd_mismatch(a):
    """Classes whose prototype is more cosine-similar to another class's row than to its own."""
    t = time.perf_counter()
    pids, p, wids, w = units_pw(a)
    own = np.searchsorted(wids, pids)
    has = (own < len(wids)) & (wids[np.minimum(own, len(wids) - 1)] == pids)
    wt, found = w.T.copy(), []
    step = block_rows(len(wids), arrays=1)
    for start in range(0, len(pids), step):
        s = p[start:start + step] @ wt
        best = np.argmax(s, axis=1)
        rows = np.arange(len(s))
        o, h = own[start:start + step], has[start:start + step]
        bad = h & (s[rows, np.minimum(o, len(wids) - 1)] < s[rows, best])
        found += [(int(pids[start + i]), int(wids[best[i]])) for i in np.flatnonzero(bad)]
    print(f"mismatches\t{len(found)}\t{int(has.sum())}")
    print("class_id\tclosest_class_id")
    for c, b in found:
        print(f"{c}\t{b}")
    clock("mismatch", t)


def cmd_sharpness(a):
    """Mean over prototypes of their cosines to every classifier row, sorted decreasing."""
    t = time.perf_counter()
    pids, p, wids, w = units_pw(a)
    wt, total = w.T.copy(), np.zeros(len(wids), np.float64)
    step = block_rows(len(wids), arrays=2)
    for start in range(0, len(pids), step):
        s = np.sort(p[start:start + step] @ wt, axis=1)
        total += s.sum(axis=0, dtype=np.float64)[::-1]
    print("rank\tmean_cosine")
    for r, v in enumerate(total / len(pids), 1):
        print(f"{r}\t{fmt(v)}")
    clock("sharpness", t)


def cmd_neighbours(a):
    """For each class, the N sources with the largest attention weight at k = 0 (ties by class id)."""
    t = time.perf_counter()
    pids, p, wids, w = units_pw(a)
    wt, n = w.T.copy(), min(a.n, len(wids))
    out = ["class_id\trank\tneighbour_id\tscore"]
    step = block_rows(len(wids), arrays=2)
    for start in range(0, len(pids), step):
        s = p[start:start + step] @ wt
        s -= s.max(axis=1, keepdims=True)
        s *= np.float32(a.tau)
        np.exp(s, out=s)
        alpha = s / s.sum(axis=1, dtype=np.float64)[:, None]
        top = np.argpartition(-alpha, n - 1, axis=1)[:, :n] if n < len(wids) else np.tile(np.arange(n), (len(s), 1))
        for i in range(len(s)):
            cand = top[i][np.lexsort((top[i], -alpha[i, top[i]]))]
            cid = pids[start + i]
            out += [f"{cid}\t{r}\t{wids[j]}\t{fmt(alpha[i, j])}" for r, j in enumerate(cand, 1)]
    print("\n".join(out))
    clock("neighbours", t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=VERSION)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("protos")
    s.add_argument("features")
    s.add_argument("output")
    s.set_defaults(run=cmd_protos)
    s = sub.add_parser("attend")
    s.add_argument("classifier")
    s.add_argument("protos")
    s.add_argument("-k", default="0")
    s.add_argument("--tau", type=float, default=10.0)
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(run=cmd_attend)
    s = sub.add_parser("ensemble")
    s.add_argument("members", nargs="+")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(run=cmd_ensemble)
    s = sub.add_parser("eval")
    s.add_argument("features")
    s.add_argument("classifiers", nargs="+")
    s.add_argument("--names")
    s.set_defaults(run=cmd_eval)
    s = sub.add_parser("sweep")
    s.add_argument("train")
    s.add_argument("test")
    s.add_argument("classifier")
    s.add_argument("-k", default=",".join(str(k) for k in range(0, 101, 5)))
    s.add_argument("--tau", type=float, default=10.0)
    s.set_defaults(run=cmd_sweep)
    for name, run in (("mismatch", cmd_mismatch), ("sharpness", cmd_sharpness), ("neighbours", cmd_neighbours)):
        s = sub.add_parser(name)
        s.add_argument("classifier")
        s.add_argument("protos")
        if name == "neighbours":
            s.add_argument("-n", type=int, default=10)
            s.add_argument("--tau", type=float, default=10.0)
        s.set_defaults(run=run)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()

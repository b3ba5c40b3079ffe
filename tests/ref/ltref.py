#!/usr/bin/env python3
"""Independent numpy reference of docs/method.md, used to check the C++ tools.

Written from docs/method.md and docs/design.md only, not from the C++ sources.  Every
computation is done in float64; arrays read from lt-h5 files are first rounded
to float32, because the tools store and read float32 (docs/design.md: float64
inputs are converted to float32 on read).

Pieces (equation numbers are the paper's):
  prototypes()     Eq. 3   mean of L2-normalised features per class
  attend()         Eq. 4-7, 9  attention transfer and composed weights
  member_probs()   Eq. 1-2 softmax(s * cos) of one cosine classifier
  ensemble_probs() Eq. 8   mean of the members' probabilities
  evaluate()       many / medium / few / total, class mean, top-5
  mismatch(), sharpness(), neighbours()   the analyses of docs/method.md Sec. 6
"""

import math

import numpy as np

try:  # the pure numerics work without h5py (selftest.py uses them so)
    import h5py
except ImportError:  # pragma: no cover
    h5py = None

TERMS_ALL = ("kt", "p", "w")
MODES = ("p2w", "w2p", "w2w", "p2p")


class RefError(Exception):
    """A data error the tools must also refuse (exit status 1)."""


# ---------------------------------------------------------------- numerics


def f32(a):
    """What the tools see: the values rounded to float32, held in float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def unit(x):
    """Row-wise L2 normalisation; an all-zero row stays zero."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def softmax(z, axis=-1):
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


class Classifier:
    """A cosine classifier: rows aligned with class_ids."""

    def __init__(self, weights, class_ids, class_counts, scale=16.0, kind="cosine", attrs=None):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.class_ids = np.asarray(class_ids, dtype=np.int64)
        self.class_counts = np.asarray(class_counts, dtype=np.int64)
        self.scale = float(scale)
        self.kind = kind
        self.attrs = dict(attrs or {})
        C = len(self.class_ids)
        if self.weights.ndim != 2 or self.weights.shape[0] != C or len(self.class_counts) != C:
            raise RefError("classifier shapes disagree")
        if len(set(self.class_ids.tolist())) != C:
            raise RefError("duplicate class ids")

    def counts_by_id(self):
        return dict(zip(self.class_ids.tolist(), self.class_counts.tolist()))

    def sorted(self):
        o = np.argsort(self.class_ids, kind="stable")
        return Classifier(self.weights[o], self.class_ids[o], self.class_counts[o],
                          self.scale, self.kind, self.attrs)


class Prototypes:
    def __init__(self, protos, class_ids, counts):
        self.protos = np.asarray(protos, dtype=np.float64)
        self.class_ids = np.asarray(class_ids, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(set(self.class_ids.tolist())) != len(self.class_ids):
            raise RefError("duplicate class ids")

    def as_classifier(self):
        """docs/design.md: a prototypes file used as a classifier has cosine weights =
        the prototypes, class_counts = /counts and scale 16."""
        return Classifier(self.protos, self.class_ids, self.counts, 16.0, "cosine")


def prototypes(features, labels):
    """Eq. 3: p_c = mean over samples of class c of f(x)/||f(x)||, NOT
    re-normalised.  Labels -1 (unknown) are skipped.  Rows sorted by class id."""
    x = unit(features)
    labels = np.asarray(labels, dtype=np.int64)
    ids = np.unique(labels[labels >= 0])
    P = np.zeros((len(ids), x.shape[1]))
    counts = np.zeros(len(ids), dtype=np.int64)
    for r, c in enumerate(ids):
        m = labels == c
        counts[r] = int(m.sum())
        P[r] = x[m].mean(axis=0)
    return Prototypes(P, ids, counts)


def parse_terms(terms):
    if isinstance(terms, str):
        terms = [t.strip() for t in terms.split(",") if t.strip()]
    terms = tuple(terms)
    if not terms or any(t not in TERMS_ALL for t in terms) or len(set(terms)) != len(terms):
        raise ValueError("bad terms %r" % (terms,))
    return tuple(t for t in TERMS_ALL if t in terms)  # canonical order kt,p,w


def attend(clf, pro, mode="p2w", k=0, tau=10.0, terms=TERMS_ALL, continual=False):
    """Eq. 4-7, 9.  Row conventions (the lt-attend contract): output rows =
    union of the classifier's and the prototypes' class ids, sorted by id;
    n_j from the classifier's class_counts, else (new classes) the
    prototypes' counts, and these are the output class_counts; a class
    lacking a term it needs (p, w, or the query of kt) is an error.
    Keys/values: classifier rows for p2w/w2w, prototype rows for w2p/p2p,
    kept when n_j > k (strict)."""
    if mode not in MODES:
        raise ValueError("bad mode %r" % mode)
    terms = ("kt", "p") if continual else parse_terms(terms)
    w_of = {c: i for i, c in enumerate(clf.class_ids.tolist())}
    p_of = {c: i for i, c in enumerate(pro.class_ids.tolist())}
    ids = sorted(set(w_of) | set(p_of))
    counts = np.array([clf.class_counts[w_of[c]] if c in w_of else pro.counts[p_of[c]]
                       for c in ids], dtype=np.int64)
    W = unit(clf.weights)
    P = unit(pro.protos)
    query_is_p = mode in ("p2w", "p2p")
    keys_are_w = mode in ("p2w", "w2w")

    need_p = "p" in terms or ("kt" in terms and query_is_p)
    need_w = "w" in terms or ("kt" in terms and not query_is_p)
    for c in ids:
        if need_p and c not in p_of:
            raise RefError("class %d has no prototype" % c)
        if need_w and c not in w_of:
            raise RefError("class %d has no classifier row" % c)

    D = W.shape[1] if W.size else P.shape[1]
    if W.shape[1] != P.shape[1]:
        raise RefError("dimension mismatch")
    out = np.zeros((len(ids), D))
    if "kt" in terms:
        if keys_are_w:
            src_ids = clf.class_ids.tolist()
            src_n = clf.class_counts
            V = W
        else:
            src_ids = pro.class_ids.tolist()
            src_n = np.array([clf.class_counts[w_of[c]] if c in w_of else pro.counts[p_of[c]]
                              for c in src_ids], dtype=np.int64)
            V = P
        keep = src_n > k  # strict, docs/method.md Eq. 4
        if not keep.any():
            raise RefError("k=%g leaves no source class" % k)
        V = V[keep]
        Q = np.stack([P[p_of[c]] if query_is_p else W[w_of[c]] for c in ids])
        A = softmax(tau * Q @ V.T, axis=1)  # alpha_ij, Eq. 5
        out += unit(A @ V)                  # normalise(w^kt_i), Eq. 6-7
    if "p" in terms:
        out += np.stack([P[p_of[c]] for c in ids])
    if "w" in terms:
        out += np.stack([W[w_of[c]] for c in ids])
    return Classifier(out, ids, counts, clf.scale, "cosine",
                      {"mode": mode, "k": k, "tau": tau, "terms": ",".join(terms)})


def attention(clf, pro, tau=10.0, k=0):
    """The p->w attention matrix alpha (rows: prototypes, cols: classifier
    classes with n > k), used by the neighbours analysis."""
    keep = clf.class_counts > k
    A = softmax(tau * unit(pro.protos) @ unit(clf.weights[keep]).T, axis=1)
    return A, clf.class_ids[keep]


def member_logits(clf, feats):
    if clf.kind != "cosine":
        raise ValueError("only cosine classifiers are modelled")
    return clf.scale * unit(feats) @ unit(clf.weights).T


def member_probs(clf, feats):
    return softmax(member_logits(clf, feats), axis=1)


def ensemble_probs(members, feats):
    """Eq. 8: mean of the members' probabilities; members aligned by class id
    to the first member.  Returns (class_ids, probs)."""
    ids = members[0].class_ids
    acc = np.zeros((len(feats), len(ids)))
    for m in members:
        if sorted(m.class_ids.tolist()) != sorted(ids.tolist()):
            raise RefError("ensemble members have different class ids")
        if m.weights.shape[1] != members[0].weights.shape[1]:
            raise RefError("ensemble members have different dimensions")
        pos = {c: i for i, c in enumerate(m.class_ids.tolist())}
        order = [pos[c] for c in ids.tolist()]
        acc += member_probs(m, feats)[:, order]
    return ids, acc / len(members)


def group_of(n, many=100, few=20):
    if n > many:
        return "many"
    if n < few:
        return "few"
    return "medium"


def evaluate(labels, class_ids, scores, counts, many=100, few=20, within_group=False):
    """Accuracies in percent.

    labels: test labels (-1 ignored).  class_ids/scores: the classifier's
    classes and an [N, C] score matrix (probabilities or logits: only the
    order matters).  counts: dict class id -> training count that defines the
    groups (the classifier's class_counts, or the --counts file); a test label
    missing from it is an error when a --counts file is used (the caller
    checks), and otherwise such a class is "ungrouped" (its own column).
    """
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    labels = labels[keep]
    scores = np.asarray(scores, dtype=np.float64)[keep]
    class_ids = np.asarray(class_ids, dtype=np.int64)
    col = {c: i for i, c in enumerate(class_ids.tolist())}
    groups = {c: group_of(n, many, few) for c, n in counts.items()}

    if within_group:
        # the candidates of a sample are the classifier's classes of its true
        # group: classes of other groups get -inf (for top-1 and top-5 alike)
        cls_group = np.array([groups.get(c, "") for c in class_ids.tolist()])
        scores = scores.copy()
        for i, y in enumerate(labels.tolist()):
            g = groups.get(y, None)
            if g is not None:
                scores[i, cls_group != g] = -np.inf
    pred = np.full(len(labels), np.iinfo(np.int64).min)  # no candidate: an error
    top5 = np.zeros(len(labels), dtype=bool)
    if len(class_ids):
        ok = np.isfinite(scores.max(axis=1))
        pred[ok] = class_ids[np.argmax(scores[ok], axis=1)]
        # top-5: the true class is among the five highest-scoring candidates
        order = np.argsort(-scores, axis=1, kind="stable")[:, :5]
        for i, y in enumerate(labels.tolist()):
            if y in col:
                top5[i] = col[y] in order[i] and np.isfinite(scores[i, col[y]])
    correct = pred == labels

    per_class = {}
    for c in np.unique(labels).tolist():
        per_class[c] = correct[labels == c].mean()
    res = {}
    for g in ("many", "medium", "few"):
        accs = [a for c, a in per_class.items() if groups.get(c) == g]
        res[g] = 100.0 * float(np.mean(accs)) if accs else float("nan")
    # test classes without a training count (no row, no --counts): ungrouped
    accs = [a for c, a in per_class.items() if c not in groups]
    res["ungrouped"] = 100.0 * float(np.mean(accs)) if accs else float("nan")
    res["ungrouped_classes"] = len(accs)
    res["total"] = 100.0 * float(correct.mean()) if len(labels) else float("nan")
    res["class_mean"] = 100.0 * float(np.mean(list(per_class.values()))) if per_class else float("nan")
    res["top5"] = 100.0 * float(top5.mean()) if len(labels) else float("nan")
    res["samples"] = int(len(labels))
    res["predictions"] = pred
    return res


def mismatch(clf, pro):
    """Classes i (with both a prototype and a classifier row) whose p̂_i is not
    most cosine-similar to ŵ_i among all ŵ_j.  Returns (count, compared,
    [(class id, closest class id), ...] sorted by class id)."""
    W = unit(clf.weights)
    w_of = {c: i for i, c in enumerate(clf.class_ids.tolist())}
    rows = []
    compared = 0
    for r, c in sorted(enumerate(pro.class_ids.tolist()), key=lambda t: t[1]):
        if c not in w_of:
            continue
        compared += 1
        s = W @ unit(pro.protos[r])
        j = int(np.argmax(s))
        if clf.class_ids[j] != c:
            rows.append((c, int(clf.class_ids[j])))
    return len(rows), compared, rows


def sharpness(clf, pro):
    """Mean over prototypes of the cosines to all classifier weights, sorted
    decreasingly; element r-1 is rank r."""
    S = unit(pro.protos) @ unit(clf.weights).T
    return (-np.sort(-S, axis=1)).mean(axis=0)


def neighbours(clf, pro, n, tau=10.0, only=None):
    """[(class id, rank, neighbour id, alpha)] for each prototype class (sorted
    by id) or only one class: the n highest p->w attention weights, k = 0."""
    A, src = attention(clf, pro, tau=tau, k=0)
    rows = []
    for r, c in sorted(enumerate(pro.class_ids.tolist()), key=lambda t: t[1]):
        if only is not None and c != only:
            continue
        order = np.argsort(-A[r], kind="stable")[:n]
        for rank, j in enumerate(order, 1):
            rows.append((c, rank, int(src[j]), float(A[r, j])))
    return rows


# ---------------------------------------------------------------- lt-h5 I/O


def _s(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _s(v[()])
    return v if isinstance(v, str) else v


def attr(obj, name, default=None):
    return _s(obj.attrs[name]) if name in obj.attrs else default


def _classifier_from_group(g, root_attrs):
    kind = attr(g, "kind", attr(root_attrs, "kind", "cosine")) if hasattr(g, "attrs") else "cosine"
    scale = g.attrs.get("scale", 16.0)
    extra = {k: _s(g.attrs[k]) for k in ("mode", "k", "tau", "terms") if k in g.attrs}
    return Classifier(f32(g["weights"][()]), g["class_ids"][()], g["class_counts"][()],
                      float(np.asarray(scale).reshape(-1)[0]), kind, extra)


def _members(g):
    """Members of an ensemble group, flattening nested ensembles."""
    out = []
    keys = sorted(g["members"].keys(), key=int)
    for key in keys:
        m = g["members"][key]
        if "members" in m:
            out.extend(_members(m))
        else:
            out.append(_classifier_from_group(m, m))
    return out


def load_classifier(path):
    """Any "classifier" argument: classifier, ensemble, prototypes or model
    file.  Returns a list of members (one for a plain classifier)."""
    with h5py.File(path, "r") as f:
        t = attr(f, "lt_type")
        if t == "classifier":
            return [_classifier_from_group(f, f)]
        if t == "ensemble":
            return _members(f)
        if t == "prototypes":
            return [load_prototypes_h(f).as_classifier()]
        if t == "model":
            return [_classifier_from_group(f["classifier"], f["classifier"])]
        raise RefError("%s: lt_type %r is not a classifier" % (path, t))


def load_prototypes_h(f):
    return Prototypes(f32(f["prototypes"][()]), f["class_ids"][()], f["counts"][()])


def load_prototypes(path):
    with h5py.File(path, "r") as f:
        return load_prototypes_h(f)


def load_features(path):
    with h5py.File(path, "r") as f:
        return f32(f["features"][()]), f["labels"][()].astype(np.int64)


def load_counts(path):
    """--counts FILE: class id -> count from a classifier (/class_counts),
    prototypes (/counts), the first member of an ensemble, or train features
    (samples per label, -1 skipped)."""
    with h5py.File(path, "r") as f:
        t = attr(f, "lt_type")
        if t == "prototypes":
            return dict(zip(f["class_ids"][()].tolist(), f["counts"][()].tolist()))
        if t == "features":
            ids, n = np.unique(f["labels"][()], return_counts=True)
            return {int(c): int(k) for c, k in zip(ids, n) if c >= 0}
    m = load_classifier(path)[0]
    return m.counts_by_id()


def eval_file(feats, labels, path, counts=None, many=100, few=20, within_group=False):
    members = load_classifier(path)
    ids, probs = ensemble_probs(members, feats)
    if counts is None:
        counts = members[0].counts_by_id()
    else:
        missing = set(np.unique(labels[labels >= 0]).tolist()) - set(counts)
        if missing:
            raise RefError("--counts lacks test labels %s" % sorted(missing))
    return evaluate(labels, ids, probs, counts, many, few, within_group)

#!/usr/bin/env python3
"""Checks ltref.py against closed-form values: 3 classes in 2-D, where every
attention weight is a ratio of exponentials written out by hand below.

Classifier (ids deliberately unsorted): w_7 = (1,0) n=200, w_3 = (0,1) n=50,
w_11 = (-1,0) n=5.  Prototypes (un-normalised): p_7 = (2,0), p_3 = (0,0.5),
p_11 = (1,-3), plus a new class p_20 = (1,1) with count 8.
Run: python3 tests/ref/selftest.py   (exit 0 = all good)
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltref  # noqa: E402

E = math.exp
R10 = math.sqrt(10.0)
failures = []


def close(name, got, want, tol=1e-12):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape or not np.allclose(got, want, atol=tol, rtol=0, equal_nan=True):
        failures.append(name)
        print("FAIL %s\n  got  %s\n  want %s" % (name, got.tolist(), want.tolist()))


def u(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def expect_error(name, fn):
    try:
        fn()
    except ltref.RefError:
        return
    failures.append(name)
    print("FAIL %s: no error" % name)


clf = ltref.Classifier([[1, 0], [0, 1], [-1, 0]], [7, 3, 11], [200, 50, 5], scale=10.0)
pro = ltref.Prototypes([[2, 0], [0, 0.5], [1, -3]], [7, 3, 11], [200, 50, 5])
W = {7: np.array([1.0, 0]), 3: np.array([0, 1.0]), 11: np.array([-1.0, 0])}
P = {7: np.array([1.0, 0]), 3: np.array([0, 1.0]), 11: u([1, -3])}

# ---- Eq. 3: prototypes of a tiny feature set
pr = ltref.prototypes([[3, 4], [0, 2], [1, 0], [5, 0], [9, 9]], [5, 5, 2, 2, -1])
close("protos ids", pr.class_ids, [2, 5])
close("protos counts", pr.counts, [2, 2])
close("protos rows", pr.protos, [[1, 0], [0.3, 0.9]])  # mean of (.6,.8) and (0,1): not re-normalised

# ---- p2w, k=0: query p̂_i, keys ŵ_7, ŵ_3, ŵ_11 with scores tau * cos
# p̂_7=(1,0): scores 10*(1,0,-1)  -> kt ∝ (e^10 - e^-10, 1)
# p̂_3=(0,1): scores 10*(0,1,0)   -> kt ∝ (1 - 1, e^10) = (0, 1)
# p̂_11=(1,-3)/√10: scores √10*(1,-3,-1) -> kt ∝ (e^√10 - e^-√10, e^-3√10)
kt = {7: u([E(10) - E(-10), 1]), 3: u([0, 1]), 11: u([E(R10) - E(-R10), E(-3 * R10)])}
out = ltref.attend(clf, pro, "p2w", k=0, tau=10)
close("p2w k0 ids", out.class_ids, [3, 7, 11])
close("p2w k0 counts", out.class_counts, [50, 200, 5])
close("p2w k0 rows", out.weights, [kt[c] + P[c] + W[c] for c in (3, 7, 11)])
close("p2w k0 scale", out.scale, 10.0)
# the attention weights themselves
A, src = ltref.attention(clf, pro, tau=10)
z7 = E(10) + 1 + E(-10)
close("alpha p_7", A[0], [E(10) / z7, 1 / z7, E(-10) / z7])
z11 = E(R10) + E(-3 * R10) + E(-R10)
close("alpha p_11", A[2], [E(R10) / z11, E(-3 * R10) / z11, E(-R10) / z11])

# ---- p2w, k=20: sources {7 (200), 3 (50)}; k=100: {7}; k=200: none
kt20 = {7: u([E(10), 1]), 3: u([1, E(10)]), 11: u([E(R10), E(-3 * R10)])}
out = ltref.attend(clf, pro, "p2w", k=20, tau=10)
close("p2w k20 rows", out.weights, [kt20[c] + P[c] + W[c] for c in (3, 7, 11)])
out = ltref.attend(clf, pro, "p2w", k=100, tau=10, terms="kt")
close("p2w k100 kt only", out.weights, [[1, 0]] * 3)
# k=50 is strict: n=50 is NOT a source
out = ltref.attend(clf, pro, "p2w", k=50, tau=10, terms="kt")
close("p2w k50 strict", out.weights, [[1, 0]] * 3)
expect_error("k leaves no source", lambda: ltref.attend(clf, pro, "p2w", k=200))

# ---- tau multiplies: tau=1 on p̂_7 -> kt ∝ (e - 1/e, 1)
out = ltref.attend(clf, pro, "p2w", k=0, tau=1, terms="kt")
close("p2w tau1", out.weights[1], u([E(1) - E(-1), 1]))

# ---- w2p: query ŵ_i, keys p̂_7=(1,0), p̂_3=(0,1), p̂_11=(1,-3)/√10
# ŵ_7=(1,0): scores (10, 0, √10) ; ŵ_3=(0,1): (0, 10, -3√10) ; ŵ_11=(-1,0): (-10, 0, -√10)
def kt_from(scores, keys):
    a = np.array([E(s) for s in scores])
    return u(sum(ai * k for ai, k in zip(a, keys)))


keysP = [P[7], P[3], P[11]]
w2p = {7: kt_from([10, 0, R10], keysP), 3: kt_from([0, 10, -3 * R10], keysP),
       11: kt_from([-10, 0, -R10], keysP)}
out = ltref.attend(clf, pro, "w2p", k=0, tau=10, terms="kt")
close("w2p k0", out.weights, [w2p[c] for c in (3, 7, 11)])
# w2w: query ŵ_i, keys ŵ_j
keysW = [W[7], W[3], W[11]]
w2w = {7: kt_from([10, 0, -10], keysW), 3: kt_from([0, 10, 0], keysW),
       11: kt_from([-10, 0, 10], keysW)}
out = ltref.attend(clf, pro, "w2w", k=0, tau=10, terms="kt,w")
close("w2w k0 kt,w", out.weights, [w2w[c] + W[c] for c in (3, 7, 11)])
# p2p: query p̂_i, keys p̂_j; with k=20 the keys are p̂_7, p̂_3
p2p = {c: kt_from([10 * float(P[c] @ P[j]) for j in (7, 3)], [P[7], P[3]]) for c in (3, 7, 11)}
out = ltref.attend(clf, pro, "p2p", k=20, tau=10, terms="kt,p")
close("p2p k20 kt,p", out.weights, [p2p[c] + P[c] for c in (3, 7, 11)])

# ---- terms without kt
close("terms w", ltref.attend(clf, pro, terms="w").weights, [W[c] for c in (3, 7, 11)])
close("terms p", ltref.attend(clf, pro, terms="p").weights, [P[c] for c in (3, 7, 11)])
close("terms p,w", ltref.attend(clf, pro, terms="p,w").weights, [P[c] + W[c] for c in (3, 7, 11)])

# ---- continual with a new class 20 (prototype only, count 8)
pro2 = ltref.Prototypes([[2, 0], [0, 0.5], [1, -3], [1, 1]], [7, 3, 11, 20], [200, 50, 5, 8])
a = 10 / math.sqrt(2)  # p̂_20 · ŵ = (1/√2, 1/√2, -1/√2)
kt20new = u([E(a) - E(-a), E(a)])
out = ltref.attend(clf, pro2, "p2w", k=0, tau=10, continual=True)
close("continual ids", out.class_ids, [3, 7, 11, 20])
close("continual counts", out.class_counts, [50, 200, 5, 8])
close("continual new row", out.weights[3], kt20new + u([1, 1]))
close("continual old row", out.weights[1], kt[7] + P[7])
expect_error("new class needs w", lambda: ltref.attend(clf, pro2, "p2w"))
expect_error("w2p query needs w", lambda: ltref.attend(clf, pro2, "w2p", terms="kt,p"))
# p2p keys are the prototype classes, the new one included: n_20 = 8 comes from the
# prototypes' counts, so k=5 keeps it (8 > 5) and drops class 11 (5 is not > 5)
P[20] = u([1, 1])
out = ltref.attend(clf, pro2, "p2p", k=5, tau=10, terms="kt,p")
close("p2p k5 keys incl. new class", out.weights,
      [kt_from([10 * float(P[c] @ P[j]) for j in (7, 3, 20)], [P[7], P[3], P[20]]) + P[c]
       for c in (3, 7, 11, 20)])
expect_error("class 11 lacks p", lambda: ltref.attend(
    clf, ltref.Prototypes([[2, 0]], [7], [200]), "p2w", terms="kt"))

# ---- classification, ensemble (Eq. 8)
m1 = ltref.Classifier([[1, 0], [0, 1]], [1, 2], [10, 10], scale=10)
m2 = ltref.Classifier([[0, 3], [2, 0]], [2, 1], [10, 10], scale=20)  # same classes, other order
ids, pr2 = ltref.ensemble_probs([m1, m2], np.array([[5.0, 0.0]]))
pA = np.array([E(10), 1]) / (E(10) + 1)
pB = np.array([E(20), 1]) / (E(20) + 1)
close("ensemble ids", ids, [1, 2])
close("ensemble mean prob", pr2[0], (pA + pB) / 2)

# ---- evaluation: groups many {7}, medium {3}, few {11}
X = np.array([[1, 0.1], [0.2, 1], [1, -0.2], [-1, 0.5], [0.1, 1], [3, 3]])
y = np.array([7, 3, 11, 11, 7, -1])
ids, probs = ltref.ensemble_probs([clf], X)
r = ltref.evaluate(y, ids, probs, clf.counts_by_id())
close("eval preds", r["predictions"], [7, 3, 7, 11, 3])
close("eval many/medium/few/total", [r["many"], r["medium"], r["few"], r["total"]], [50, 100, 50, 60])
close("eval class_mean", r["class_mean"], 200 / 3)
close("eval top5/samples", [r["top5"], r["samples"]], [100, 5])
r = ltref.evaluate(y, ids, probs, clf.counts_by_id(), within_group=True)
close("eval within-group", [r["many"], r["medium"], r["few"], r["total"], r["top5"]], [100] * 5)
# within-group with two classes in a group: many = {7, 3} (n > 40); x5=(0.1,1) of
# class 7 is still predicted 3, and top-5 is over the group's candidates only
r = ltref.evaluate(y, ids, probs, clf.counts_by_id(), many=40, within_group=True)
close("eval within-group 2", [r["many"], r["few"], r["total"], r["top5"]], [75, 100, 80, 100])
# a group without classes is nan; a test class the classifier lacks is an error
r = ltref.evaluate(np.array([7, 5]), ids, probs[:2], {7: 200, 3: 50, 11: 5, 5: 150}, many=300)
close("eval missing class + empty group", [r["many"], r["medium"], r["total"]], [float("nan"), 50, 50])

# ---- analyses
n, compared, rows = ltref.mismatch(clf, pro)
close("mismatch", [n, compared], [1, 3])
close("mismatch rows", rows, [(11, 7)])
close("sharpness", ltref.sharpness(clf, pro),
      [(1 + 1 + 1 / R10) / 3, (0 + 0 - 1 / R10) / 3, (-1 + 0 - 3 / R10) / 3])
nb = ltref.neighbours(clf, pro, 2, only=7)
close("neighbours ids", [(c, k, j) for c, k, j, _ in nb], [(7, 1, 7), (7, 2, 3)])
close("neighbours scores", [s for *_, s in nb], [E(10) / z7, 1 / z7])

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ltref selftest: all checks passed")

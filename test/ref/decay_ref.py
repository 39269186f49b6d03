#!/usr/bin/python3
"""Reference solutions of the time-decayed als and ials objectives on tiny
matrices (src/core/als.c and src/core/ials.c, "Time decay"; the weights of
src/core/decay.c).

Each interaction has a time (days 0..11, in seconds) and weighs
w = 0.5^((as_of - t) / half_life), half_life = 3 days, as_of the newest
time.  Exact alternating least squares in float64 from the C cores'
initial factors (seed 42, init_std 0.1) until no prediction moves by more
than 1e-10:

  als   k = 1, lambda = lambda_b = 0.1: sum w (r - mu - b_u - b_i - p.q)^2
        + sum_u W_u (lambda |p_u|^2 + lambda_b b_u^2) + the same for items,
        W the weight sums, mu the weighted mean rating;
  ials  k = 2, alpha = 2, lambda = 0.1: confidence 1 + alpha r w on the
        left, w (1 + alpha r) on the right of each solve.

Prints "pred u i value" for every cell of each (test/ref/als_decay.expected,
test/ref/ials_decay.expected).

usage: decay_ref.py als|ials [--triplets FILE]   (FILE: a text matrix with
times for als_core)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402

DAY = 86400.0
HALF_LIFE = 3 * DAY
# (user, item, value, day)
ALS = [
    (0, 0, 5, 0), (0, 1, 3, 1), (0, 2, 4, 9),
    (1, 0, 4, 2), (1, 2, 5, 10), (1, 3, 1, 3),
    (2, 1, 2, 4), (2, 2, 1, 11), (2, 3, 4, 5),
    (3, 0, 5, 6), (3, 3, 2, 8),
    (4, 1, 4, 7),
]
IALS = [
    (0, 0, 3, 0), (0, 1, 1, 9),
    (1, 0, 1, 1), (1, 1, 2, 10), (1, 2, 1, 2),
    (2, 2, 4, 3), (2, 3, 1, 11),
    (3, 3, 2, 4),
    (4, 0, 1, 5), (4, 3, 5, 8),
]
INIT_STD, SEED = 0.1, 42


def weights(days):
    t = np.array(days, np.float64) * DAY
    age = np.maximum(t.max() - t, 0.0)
    # stored as float by the core
    return np.exp(age * (-np.log(2.0) / HALF_LIFE)).astype(np.float32).astype(np.float64)


def matrices(rows):
    u = np.array([t[0] for t in rows], np.int32)
    i = np.array([t[1] for t in rows], np.int32)
    r = np.array([t[2] for t in rows], np.float32)
    w = weights([t[3] for t in rows])
    nu, ni = int(u.max()) + 1, int(i.max()) + 1
    R, Rt = mfref.csr_pair(u, i, r, nu, ni)
    W, Wt = mfref.csr_pair(u, i, w, nu, ni)
    return R, Rt, W, Wt, nu, ni


def als_half(R, W, mu, X, xb, Y, yb, lam, lam_b):
    k = X.shape[1]
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        if hi == lo:
            X[e], xb[e] = 0, 0
            continue
        idx = R.indices[lo:hi]
        w = W.data[lo:hi]
        A = np.hstack([Y[idx], np.ones((hi - lo, 1))])
        t = R.data[lo:hi] - mu - yb[idx]
        M = (A.T * w) @ A + w.sum() * np.diag([lam] * k + [lam_b])
        x = np.linalg.solve(M, (A.T * w) @ t)
        X[e], xb[e] = x[:k], x[k]


def ials_half(R, W, X, Y, alpha, lam):
    k = X.shape[1]
    YtY = Y.T @ Y
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        idx = R.indices[lo:hi]
        w = W.data[lo:hi]
        c1 = alpha * R.data[lo:hi] * w
        Yi = Y[idx]
        M = YtY + (Yi.T * c1) @ Yi + lam * np.eye(k)
        b = ((w * (1.0 + alpha * R.data[lo:hi]))[:, None] * Yi).sum(0)
        X[e] = np.linalg.solve(M, b)


def main():
    which = sys.argv[1]
    rows = ALS if which == "als" else IALS
    if len(sys.argv) == 4 and sys.argv[2] == "--triplets":
        with open(sys.argv[3], "w") as f:
            for u, i, r, d in rows:
                f.write("%d %d %g %.1f\n" % (u, i, r, d * DAY))
    R, Rt, W, Wt, nu, ni = matrices(rows)
    k = 1 if which == "als" else 2
    X = mfref.init_factors(nu, k, INIT_STD, SEED, 0)
    Y = mfref.init_factors(ni, k, INIT_STD, SEED, nu)
    xb, yb = np.zeros(nu), np.zeros(ni)
    mu = (W.data * R.data).sum() / W.data.sum()
    prev = None
    for it in range(100000):
        if which == "als":
            als_half(R, W, mu, X, xb, Y, yb, 0.1, 0.1)
            als_half(Rt, Wt, mu, Y, yb, X, xb, 0.1, 0.1)
            pred = mu + xb[:, None] + yb[None, :] + X @ Y.T
        else:
            ials_half(R, W, X, Y, 2.0, 0.1)
            ials_half(Rt, Wt, Y, X, 2.0, 0.1)
            pred = X @ Y.T
        if prev is not None and np.abs(pred - prev).max() < 1e-10:
            break
        prev = pred
    print("# %s with time decay (half-life 3 days): converged after %d iterations"
          % (which, it + 1))
    for a in range(nu):
        for b in range(ni):
            print("pred %d %d %.6f" % (a, b, pred[a, b]))


if __name__ == "__main__":
    main()

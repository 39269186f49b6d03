#!/usr/bin/python3
"""Reference solution of nmf (src/core/als.c, rs_train_nmf) on the tiny
matrix of als_ref.py.

The model is p_u.q_i with p_u >= 0 and q_i >= 0 (nmf's default: no
biases, no global mean), or with --biases mu + b_u + b_i + p_u.q_i (the
biases free, mu the mean rating); the objective that of src/core/als.c:

    L = sum_R (r_ui - mu - b_u - b_i - p_u.q_i)^2
        + sum_u n_u (lambda |p_u|^2 + lambda_b b_u^2)
        + sum_i n_i (lambda |q_i|^2 + lambda_b b_i^2)

k = 2, lambda = 0.1, lambda_b = 0.05; the initial factors are the
magnitudes of the C core's draws (seed 42, init_std 0.1).  Alternating
nonnegative least squares in float64: each entity is solved exactly by
SciPy's Lawson-Hanson NNLS (scipy.optimize.nnls, another algorithm than
the C core's block principal pivoting) on the least-squares form of its penalised problem
(the penalty as extra rows; a free bias as the difference of two
nonnegative ones, each penalised, which has the same minimum), run until
no prediction moves by more than 1e-10; every prediction is printed as
"pred u i value": test/ref/nmf_tiny.expected (and nmf_bias_tiny.expected
with --biases) hold that output.

usage: nmf_ref.py [--biases] [--triplets FILE]
"""
import os
import sys

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402
from als_ref import TINY  # noqa: E402

K, LAM, LAM_B, INIT_STD, SEED = 2, 0.1, 0.05, 0.1, 42


def nnls_half(R, mu, X, xb, Y, yb, lam, lam_b, biases):
    """Every row of X (and xb) solved exactly given Y, yb (in place)."""
    k = X.shape[1]
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        n = hi - lo
        if n == 0:
            X[e] = 0
            xb[e] = 0
            continue
        idx = R.indices[lo:hi]
        t = R.data[lo:hi] - mu - yb[idx]
        cols = [Y[idx]]
        if biases:
            cols += [np.ones((n, 1)), -np.ones((n, 1))]
        A = np.hstack(cols)
        d = A.shape[1]
        pen = np.full(d, np.sqrt(n * lam))
        if biases:
            pen[k:] = np.sqrt(n * lam_b)
        A = np.vstack([A, np.diag(pen)])
        x, _ = nnls(A, np.r_[t, np.zeros(d)], maxiter=1000)
        X[e] = x[:k]
        xb[e] = x[k] - x[k + 1] if biases else 0.0


def main():
    args = sys.argv[1:]
    biases = "--biases" in args
    nu, ni = 5, 4
    u = np.array([t[0] for t in TINY], np.int32)
    i = np.array([t[1] for t in TINY], np.int32)
    r = np.array([t[2] for t in TINY], np.float32)
    if "--triplets" in args:
        mfref.write_triplets(args[args.index("--triplets") + 1], u, i, r)
    R, Rt = mfref.csr_pair(u, i, r, nu, ni)
    mu = R.data.mean() if biases else 0.0
    P = np.abs(mfref.init_factors(nu, K, INIT_STD, SEED, 0))
    Q = np.abs(mfref.init_factors(ni, K, INIT_STD, SEED, nu))
    bu, bi = np.zeros(nu), np.zeros(ni)
    prev = None
    for it in range(100000):
        nnls_half(R, mu, P, bu, Q, bi, LAM, LAM_B, biases)
        nnls_half(Rt, mu, Q, bi, P, bu, LAM, LAM_B, biases)
        pred = mu + bu[:, None] + bi[None, :] + P @ Q.T
        if prev is not None and np.abs(pred - prev).max() < 1e-10:
            break
        prev = pred
    assert (P >= 0).all() and (Q >= 0).all()
    print("# nmf%s k=%d lambda=%g%s: converged after %d iterations, "
          "%d of %d factors at 0" % (
              " with biases" if biases else "", K, LAM,
              " lambda_b=%g" % LAM_B if biases else "", it + 1,
              int((P == 0).sum() + (Q == 0).sum()), P.size + Q.size))
    for a in range(nu):
        for b in range(ni):
            print("pred %d %d %.6f" % (a, b, pred[a, b]))


if __name__ == "__main__":
    main()

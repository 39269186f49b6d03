#!/usr/bin/python3
"""Reference solution of als without baseline ("biases": false) on the tiny
matrix of als_ref.py.

The model is mu + p_u.q_i (mu the mean rating), or p_u.q_i with
"global_mean": false (mu = 0); the objective that of src/core/als.c with
the biases removed:

    L = sum_R (r_ui - mu - p_u.q_i)^2 + sum_u n_u lambda |p_u|^2
                                      + sum_i n_i lambda |q_i|^2

k = 2, lambda = 0.1, the same initial factors as the C core (seed 42,
init_std 0.1).  Exact alternating least squares in float64 (one k x k
solve per entity, written here without the bias coordinate), run until no
prediction moves by more than 1e-10; every prediction is printed as
"pred u i value": test/ref/als_nobias_tiny.expected (with mu) and
als_nobias0_tiny.expected (--no-global-mean) hold that output.

usage: als_nobias_ref.py [--no-global-mean] [--triplets FILE]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402
from als_ref import TINY  # noqa: E402

K, LAM, INIT_STD, SEED = 2, 0.1, 0.1, 42


def exact_half(R, mu, X, Y, lam):
    """Every row of X solved exactly given Y, no bias (in place)."""
    k = X.shape[1]
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        n = hi - lo
        if n == 0:
            X[e] = 0
            continue
        Ye = Y[R.indices[lo:hi]]
        t = R.data[lo:hi] - mu
        X[e] = np.linalg.solve(Ye.T @ Ye + n * lam * np.eye(k), Ye.T @ t)


def main():
    args = sys.argv[1:]
    no_mean = "--no-global-mean" in args
    nu, ni = 5, 4
    u = np.array([t[0] for t in TINY], np.int32)
    i = np.array([t[1] for t in TINY], np.int32)
    r = np.array([t[2] for t in TINY], np.float32)
    if "--triplets" in args:
        mfref.write_triplets(args[args.index("--triplets") + 1], u, i, r)
    R, Rt = mfref.csr_pair(u, i, r, nu, ni)
    mu = 0.0 if no_mean else R.data.mean()
    P = mfref.init_factors(nu, K, INIT_STD, SEED, 0)
    Q = mfref.init_factors(ni, K, INIT_STD, SEED, nu)
    prev = None
    for it in range(100000):
        exact_half(R, mu, P, Q, LAM)
        exact_half(Rt, mu, Q, P, LAM)
        pred = mu + P @ Q.T
        if prev is not None and np.abs(pred - prev).max() < 1e-10:
            break
        prev = pred
    print("# als without biases%s k=%d lambda=%g: converged after %d "
          "iterations" % (", without mu," if no_mean else "", K, LAM, it + 1))
    for a in range(nu):
        for b in range(ni):
            print("pred %d %d %.6f" % (a, b, pred[a, b]))


if __name__ == "__main__":
    main()

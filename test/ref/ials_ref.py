#!/usr/bin/python3
"""Reference solution of the ials objective (src/core/ials.c) on a tiny matrix.

5 users x 4 items, 10 interactions with counts, k = 2, alpha = 2,
lambda = 0.1, the same initial factors as the C core (seed 42, init_std
0.1).  Exact Hu-Koren-Volinsky ALS in float64 (one dense solve per
entity) until no score moves by more than 1e-10; every score x_u.y_i is
printed as "pred u i value": test/ref/ials_tiny.expected holds that output.

usage: ials_ref.py [--triplets FILE]   (also write the matrix for als_core)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402

TINY = [
    (0, 0, 3), (0, 1, 1),
    (1, 0, 1), (1, 1, 2), (1, 2, 1),
    (2, 2, 4), (2, 3, 1),
    (3, 3, 2),
    (4, 0, 1), (4, 3, 5),
]
K, ALPHA, LAM, INIT_STD, SEED = 2, 2.0, 0.1, 0.1, 42


def main():
    nu, ni = 5, 4
    R, Rt = mfref.tiny_problem(TINY, nu, ni)
    X = mfref.init_factors(nu, K, INIT_STD, SEED, 0)
    Y = mfref.init_factors(ni, K, INIT_STD, SEED, nu)
    prev = None
    for it in range(100000):
        mfref.ials_exact_half(R, X, Y, ALPHA, LAM)
        mfref.ials_exact_half(Rt, Y, X, ALPHA, LAM)
        pred = X @ Y.T
        if prev is not None and np.abs(pred - prev).max() < 1e-10:
            break
        prev = pred
    print("# ials k=%d alpha=%g lambda=%g: converged after %d iterations, "
          "loss %.8f" % (K, ALPHA, LAM, it + 1,
                         mfref.ials_loss(R, X, Y, ALPHA, LAM)))
    for a in range(nu):
        for b in range(ni):
            print("pred %d %d %.6f" % (a, b, pred[a, b]))


if __name__ == "__main__":
    main()
